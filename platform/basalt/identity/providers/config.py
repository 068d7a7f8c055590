"""The `auth.providers` settings: per-provider switches, client ids and write-only secrets.

Shape (management API, `PATCH settings {"auth": {"providers": {...}}}`)::

    {"google": {"enabled": true, "client_ids": ["123.apps.googleusercontent.com"]},
     "oidc": {"enabled": true, "issuer": "https://id.example.com", "client_ids": ["basalt"],
              "client_secret": "…"},
     "github": {"enabled": true, "client_ids": ["Iv1.abc"], "client_secret": "…"},
     "firebase": {"enabled": true, "project_id": "my-app"}}

A PATCH merges per provider with what is stored, so leaving out `client_secret` keeps it; `null`
removes it. Secrets are Fernet-encrypted (`client_secret_encrypted`) before they are stored and
the management API shows only `client_secret_set`.
"""

from __future__ import annotations

import re
from typing import Any

from basalt.identity.keys import decrypt_secret, encrypt_secret

SECRET_PURPOSE = "provider-secret"
_CLIENT_ID = re.compile(r"\A[\x21-\x7e]{1,512}\Z")
_URL = re.compile(r"\Ahttps?://[^\s/?#]{1,253}(?:/[^\s?#]{0,500})?\Z")
_FIREBASE_PROJECT = re.compile(r"\A[a-z0-9-]{4,64}\Z")
_SCOPE = re.compile(r"\A[\x21-\x7e]{1,100}\Z")

# Fields each provider accepts besides enabled / client_ids / client_secret.
EXTRA_FIELDS: dict[str, tuple[str, ...]] = {
    "google": (),
    "apple": (),
    "firebase": ("project_id",),
    "oidc": ("issuer", "discovery_url", "scopes"),
    "github": (),
}


def _check_field(provider: str, name: str, value: Any, errors: dict[str, list[str]]) -> None:
    key = f"auth.providers.{provider}.{name}"
    if name == "enabled":
        if not isinstance(value, bool):
            errors[key] = ["Must be a boolean."]
    elif name == "client_ids":
        if (
            not isinstance(value, list)
            or len(value) > 20
            or not all(isinstance(v, str) and _CLIENT_ID.match(v) for v in value)
        ):
            errors[key] = ["Must be a list of at most 20 client ids (printable, no spaces)."]
    elif name == "client_secret":
        if value is not None and (not isinstance(value, str) or not 1 <= len(value) <= 4096):
            errors[key] = ["Must be a string of at most 4096 characters, or null to remove it."]
    elif name in ("issuer", "discovery_url"):
        if not isinstance(value, str) or not _URL.match(value):
            errors[key] = ["Must be an absolute http(s) URL."]
    elif name == "project_id":
        if not isinstance(value, str) or not _FIREBASE_PROJECT.match(value):
            errors[key] = ["Must be a Firebase project id."]
    elif name == "scopes":
        if (
            not isinstance(value, list)
            or len(value) > 20
            or not all(isinstance(v, str) and _SCOPE.match(v) for v in value)
        ):
            errors[key] = ["Must be a list of scope names."]
    else:
        errors[key] = ["Unknown setting."]


def validate_providers(value: Any, stored: Any, errors: dict[str, list[str]]) -> dict[str, Any]:
    """Check a (partial) `providers` object and merge it over the stored one, encrypting secrets."""
    from basalt.identity.providers import registry

    if not isinstance(value, dict):
        errors["auth.providers"] = ["Must be an object keyed by provider name."]
        return {}
    merged: dict[str, Any] = {k: dict(v) for k, v in (stored or {}).items() if isinstance(v, dict)}
    for provider, config in value.items():
        if registry.get(provider) is None or provider not in EXTRA_FIELDS:
            errors[f"auth.providers.{provider[:40]}"] = [f"Unknown provider; known: {', '.join(registry.names())}."]
            continue
        if config is None:  # null forgets the provider's configuration
            merged.pop(provider, None)
            continue
        if not isinstance(config, dict):
            errors[f"auth.providers.{provider}"] = ["Must be an object."]
            continue
        allowed = {"enabled", "client_ids", "client_secret", *EXTRA_FIELDS[provider]}
        for name, item in config.items():
            if name not in allowed:
                errors[f"auth.providers.{provider}.{name[:40]}"] = ["Unknown setting."]
            else:
                _check_field(provider, name, item, errors)
        entry = merged.setdefault(provider, {"enabled": False})
        for name, item in config.items():
            if name == "client_secret":
                entry.pop("client_secret_encrypted", None)
                if isinstance(item, str) and item:
                    entry["client_secret_encrypted"] = encrypt_secret(item, SECRET_PURPOSE)
            elif name in allowed:
                entry[name] = item
    return merged


def redact_providers(providers: Any) -> Any:
    """What the management API shows: everything but the secret, and whether one is set."""
    if not isinstance(providers, dict):
        return providers
    shown = {}
    for name, config in providers.items():
        if isinstance(config, dict):
            config = {k: v for k, v in config.items() if k != "client_secret_encrypted"}
            config["client_secret_set"] = "client_secret_encrypted" in providers[name]
        shown[name] = config
    return shown


def client_secret(config: dict[str, Any]) -> str | None:
    token = config.get("client_secret_encrypted")
    return decrypt_secret(token, SECRET_PURPOSE) if token else None
