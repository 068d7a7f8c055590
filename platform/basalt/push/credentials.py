"""The `push` settings section: provider credentials validated on upload, sealed at rest, never shown.

Stored shape (inside `project.settings["push"]`), one entry per configured provider:
`fcm: {project_id, client_email, sealed}`, `apns: {key_id, team_id, bundle_id, sandbox, sealed}`,
`webpush: {public_key, subject, sealed}`. `sealed` is the Fernet-encrypted secret part (the
service-account JSON, the .p8 key, the VAPID private key); the management API only ever sees
the redacted form (`redact_push_section`). A provider set to `null` is removed.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from typing import Any

import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.conf import settings

from basalt.core import sealing
from basalt.core.errors import ValidationFailed
from basalt.projects.models import Project

PURPOSE = b"basalt.push.credentials"
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
_APPLE_ID = re.compile(r"\A[A-Z0-9]{10}\Z")
_BUNDLE_ID = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9.-]{0,154}\Z")
_SUBJECT = re.compile(r"\A(?:mailto:[^\s@]{1,64}@[^\s@]{1,190}|https://[^\s]{1,250})\Z")
MAX_CREDENTIAL_BYTES = 16 * 1024


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _fail(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, details={f"push.{field}": [message]})


def _only(value: Any, name: str, allowed: set[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(name, "Must be an object (or null to remove it).")
    unknown = sorted(str(key)[:40] for key in value if key not in allowed)
    if unknown:
        raise _fail(f"{name}.{unknown[0]}", "Unknown field.")
    return value


def _string(value: Any, field: str, limit: int = MAX_CREDENTIAL_BYTES) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _fail(field, "Must be a non-empty string.")
    if len(value) > limit:
        raise _fail(field, f"Must be at most {limit} characters.")
    return value


# --- FCM -------------------------------------------------------------------------------------
def _clean_fcm(value: Any) -> dict[str, Any]:
    value = _only(value, "fcm", {"service_account"})
    account = value.get("service_account")
    if isinstance(account, str):
        try:
            account = orjson.loads(_string(account, "fcm.service_account"))
        except orjson.JSONDecodeError:
            raise _fail("fcm.service_account", "Not JSON: upload the service-account file from Firebase.") from None
    if not isinstance(account, dict):
        raise _fail("fcm.service_account", "Upload the service-account JSON file from the Firebase console.")
    if len(orjson.dumps(account)) > MAX_CREDENTIAL_BYTES:
        raise _fail("fcm.service_account", "Too large for a service-account file.")
    if account.get("type") != "service_account":
        raise _fail("fcm.service_account", 'Not a service account ("type" must be "service_account").')
    for name in ("project_id", "client_email", "private_key"):
        _string(account.get(name), f"fcm.service_account.{name}", 8192)
    token_uri = account.get("token_uri") or GOOGLE_TOKEN_URI
    if token_uri != GOOGLE_TOKEN_URI and not settings.PUSH_ALLOW_PRIVATE_ENDPOINTS:
        raise _fail("fcm.service_account.token_uri", f"Must be {GOOGLE_TOKEN_URI}.")
    try:
        key = serialization.load_pem_private_key(account["private_key"].encode(), password=None)
    except (ValueError, TypeError):
        raise _fail("fcm.service_account.private_key", "Not a PEM private key.") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise _fail("fcm.service_account.private_key", "A service-account key is an RSA key.")
    try:
        from google.oauth2 import service_account

        service_account.Credentials.from_service_account_info({**account, "token_uri": token_uri})
    except (ValueError, KeyError) as exc:
        raise _fail("fcm.service_account", f"Rejected by google-auth: {str(exc)[:200]}") from None
    return {
        "project_id": account["project_id"],
        "client_email": account["client_email"],
        "sealed": sealing.seal(PURPOSE, orjson.dumps({**account, "token_uri": token_uri})),
    }


# --- APNs ------------------------------------------------------------------------------------
def _clean_apns(value: Any) -> dict[str, Any]:
    value = _only(value, "apns", {"key", "key_id", "team_id", "bundle_id", "sandbox"})
    pem = _string(value.get("key"), "apns.key")
    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError):
        raise _fail("apns.key", "Not a .p8 key (a PKCS#8 PEM from Apple).") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise _fail("apns.key", "An APNs key is a P-256 (ES256) key.")
    key_id, team_id = value.get("key_id"), value.get("team_id")
    if not isinstance(key_id, str) or not _APPLE_ID.match(key_id):
        raise _fail("apns.key_id", "Must be the 10-character key id from Apple.")
    if not isinstance(team_id, str) or not _APPLE_ID.match(team_id):
        raise _fail("apns.team_id", "Must be the 10-character team id from Apple.")
    bundle_id = value.get("bundle_id")
    if not isinstance(bundle_id, str) or not _BUNDLE_ID.match(bundle_id):
        raise _fail("apns.bundle_id", "Must be the app's bundle id, e.g. com.example.app.")
    sandbox = value.get("sandbox", False)
    if not isinstance(sandbox, bool):
        raise _fail("apns.sandbox", "Must be true or false.")
    normal = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return {
        "key_id": key_id,
        "team_id": team_id,
        "bundle_id": bundle_id,
        "sandbox": sandbox,
        "sealed": sealing.seal(PURPOSE, normal),
    }


# --- Web Push (VAPID) ------------------------------------------------------------------------
def _clean_webpush(value: Any) -> dict[str, Any]:
    value = _only(value, "webpush", {"generate", "private_key", "subject"})
    subject = value.get("subject", "mailto:push@localhost")
    if not isinstance(subject, str) or not _SUBJECT.match(subject):
        raise _fail("webpush.subject", "Must be a mailto: address or an https:// URL (VAPID `sub`).")
    if value.get("generate") is True:
        if "private_key" in value:
            raise _fail("webpush.private_key", "Either generate keys or give a private key, not both.")
        key = ec.generate_private_key(ec.SECP256R1())
    elif "private_key" in value:
        raw = _string(value.get("private_key"), "webpush.private_key", 200)
        try:
            number = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
            if len(number) != 32:
                raise ValueError
            key = ec.derive_private_key(int.from_bytes(number, "big"), ec.SECP256R1())
        except ValueError:
            raise _fail("webpush.private_key", "Must be a raw P-256 private key, 32 bytes base64url.") from None
    else:
        raise _fail("webpush", 'Send {"generate": true} to make VAPID keys, or a `private_key`.')
    private_raw = key.private_numbers().private_value.to_bytes(32, "big")
    public = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return {
        "public_key": b64url(public),
        "subject": subject,
        "sealed": sealing.seal(PURPOSE, b64url(private_raw).encode()),
    }


CLEANERS = {"fcm": _clean_fcm, "apns": _clean_apns, "webpush": _clean_webpush}


def validate_push_section(value: Any) -> dict[str, Any]:
    """Validate uploaded credentials and return them sealed (None removes a provider)."""
    if not isinstance(value, dict):
        raise ValidationFailed(details={"push": ["Must be an object with fcm, apns and/or webpush."]})
    unknown = sorted(str(name)[:40] for name in value if name not in CLEANERS)
    if unknown:
        raise _fail(unknown[0], "Unknown push provider (fcm, apns, webpush).")
    return {name: None if item is None else CLEANERS[name](item) for name, item in value.items()}


def redact_push_section(value: Any) -> dict[str, Any]:
    """What the management API shows: each provider's public facts, never the sealed secret."""
    out: dict[str, Any] = {}
    for name in CLEANERS:
        item = value.get(name) if isinstance(value, dict) else None
        if isinstance(item, dict):
            out[name] = {"configured": True, **{k: v for k, v in item.items() if k != "sealed"}}
        else:
            out[name] = {"configured": False}
    return out


@dataclass(frozen=True)
class FcmCredentials:
    project_id: str
    service_account: dict[str, Any]


@dataclass(frozen=True)
class ApnsCredentials:
    key_pem: str
    key_id: str
    team_id: str
    bundle_id: str
    sandbox: bool


@dataclass(frozen=True)
class WebPushCredentials:
    private_key: str  # raw base64url, as pywebpush wants it
    public_key: str
    subject: str


def stored_section(project: Project) -> dict[str, Any]:
    section = (project.settings or {}).get("push")
    return section if isinstance(section, dict) else {}


def configured(project: Project) -> list[str]:
    section = stored_section(project)
    return [name for name in CLEANERS if isinstance(section.get(name), dict)]


def load(project: Project, provider: str) -> FcmCredentials | ApnsCredentials | WebPushCredentials | None:
    """The decrypted credentials of one provider, or None when the project has none."""
    item = stored_section(project).get(provider)
    if not isinstance(item, dict):
        return None
    secret = sealing.unseal(PURPOSE, item["sealed"])
    if provider == "fcm":
        return FcmCredentials(project_id=item["project_id"], service_account=orjson.loads(secret))
    if provider == "apns":
        return ApnsCredentials(
            key_pem=secret.decode(),
            key_id=item["key_id"],
            team_id=item["team_id"],
            bundle_id=item["bundle_id"],
            sandbox=bool(item["sandbox"]),
        )
    return WebPushCredentials(private_key=secret.decode(), public_key=item["public_key"], subject=item["subject"])


def vapid_public_key(project: Project) -> str | None:
    item = stored_section(project).get("webpush")
    return item["public_key"] if isinstance(item, dict) else None
