"""The Providers section of a project's auth settings: one form for every sign-in provider.

Secrets are write-only: the form never renders them; a blank secret keeps the stored one.
The service (`basalt.identity.auth_settings.validate_auth_section`) re-checks everything."""

from __future__ import annotations

from django import forms

from console.forms import VersionedForm

PROVIDERS = (
    ("google", "Google", ()),
    ("apple", "Apple", ()),
    ("firebase", "Firebase Authentication", ("project_id",)),
    ("oidc", "OpenID Connect", ("issuer",)),
    ("github", "GitHub", ()),
)
WITH_SECRET = ("oidc", "github")


def _lines(text: str) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


class ProvidersForm(VersionedForm):
    redirect_urls = forms.CharField(
        label="Allowed redirect URLs",
        required=False,
        max_length=52000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One per line; a browser sign-in returns only to one of these, matched exactly.",
    )
    link_by_verified_email = forms.BooleanField(
        label="Link a provider to an existing account when both say the email is verified", required=False
    )
    require_mfa = forms.BooleanField(label="Require a second factor (authenticator app or passkey)", required=False)
    passkey_rp_id = forms.CharField(
        label="Passkey relying party id",
        required=False,
        max_length=253,
        help_text="Your app's domain, e.g. example.com",
    )
    passkey_origins = forms.CharField(
        label="Passkey origins",
        required=False,
        max_length=14000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="One origin per line, e.g. https://app.example.com",
    )

    def __init__(self, *args, read_only: bool = False, secrets_set: dict | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        secrets_set = secrets_set or {}
        for name, label, extra in PROVIDERS:
            self.fields[f"{name}_enabled"] = forms.BooleanField(label=f"{label}: enabled", required=False)
            self.fields[f"{name}_client_ids"] = forms.CharField(
                label=f"{label}: client ids" if name != "firebase" else f"{label}: client ids (unused)",
                required=False,
                max_length=11000,
                widget=forms.Textarea(attrs={"rows": 2}),
                help_text="One per line (the token's audience)",
            )
            if "project_id" in extra:
                self.fields[f"{name}_project_id"] = forms.CharField(
                    label=f"{label}: Firebase project id", required=False, max_length=64
                )
            if "issuer" in extra:
                self.fields[f"{name}_issuer"] = forms.CharField(
                    label=f"{label}: issuer URL", required=False, max_length=1000
                )
            if name in WITH_SECRET:
                is_set = secrets_set.get(name)
                self.fields[f"{name}_client_secret"] = forms.CharField(
                    label=f"{label}: client secret",
                    required=False,
                    max_length=4096,
                    widget=forms.PasswordInput(
                        render_value=False,
                        attrs={"autocomplete": "off", "placeholder": "set (leave blank to keep)" if is_set else ""},
                    ),
                    help_text="Stored encrypted; never shown again.",
                )
        for field in self.fields.values():
            field.disabled = read_only

    @classmethod
    def initial_from(cls, auth: dict) -> dict:
        initial = {
            "redirect_urls": "\n".join(auth.get("redirect_urls") or []),
            "link_by_verified_email": bool(auth.get("link_by_verified_email")),
            "require_mfa": bool(auth.get("require_mfa")),
            "passkey_rp_id": auth.get("passkey_rp_id") or "",
            "passkey_origins": "\n".join(auth.get("passkey_origins") or []),
        }
        for name, _, _ in PROVIDERS:
            config = (auth.get("providers") or {}).get(name) or {}
            initial[f"{name}_enabled"] = bool(config.get("enabled"))
            initial[f"{name}_client_ids"] = "\n".join(config.get("client_ids") or [])
            initial[f"{name}_project_id"] = config.get("project_id") or ""
            initial[f"{name}_issuer"] = config.get("issuer") or ""
        return initial

    def provider_rows(self):
        """(name, label, bound fields) for the template, one row per provider."""
        for name, label, _ in PROVIDERS:
            yield name, label, [self[key] for key in self.fields if key.startswith(f"{name}_")]

    def section(self) -> dict:
        data = self.cleaned_data
        providers: dict = {}
        for name, _, extra in PROVIDERS:
            config: dict = {"enabled": data[f"{name}_enabled"], "client_ids": _lines(data[f"{name}_client_ids"])}
            if "project_id" in extra and data[f"{name}_project_id"].strip():
                config["project_id"] = data[f"{name}_project_id"].strip()
            if "issuer" in extra and data[f"{name}_issuer"].strip():
                config["issuer"] = data[f"{name}_issuer"].strip()
            if name in WITH_SECRET and data.get(f"{name}_client_secret"):
                config["client_secret"] = data[f"{name}_client_secret"]
            providers[name] = config
        return {
            "providers": providers,
            "redirect_urls": _lines(data["redirect_urls"]),
            "link_by_verified_email": data["link_by_verified_email"],
            "require_mfa": data["require_mfa"],
            "passkey_rp_id": data["passkey_rp_id"].strip(),
            "passkey_origins": _lines(data["passkey_origins"]),
        }

    def field_map(self) -> dict[str, str]:
        found = {
            f"auth.{n}": n
            for n in ("redirect_urls", "link_by_verified_email", "require_mfa", "passkey_rp_id", "passkey_origins")
        }
        for key in self.fields:
            for name, _, _ in PROVIDERS:
                if key.startswith(f"{name}_"):
                    found[f"auth.providers.{name}.{key[len(name) + 1 :]}"] = key
        return found
