"""Console forms: they only shape input; services decide what is valid and allowed."""

from __future__ import annotations

from django import forms
from django.conf import settings

from basalt.projects.project_settings import LIMIT_CEILINGS
from basalt.projects.roles import ROLES
from basalt.projects.services import KEY_NAME_MAX, PROJECT_NAME_MAX


class VersionedForm(forms.Form):
    """A form that sends back a whole state: `version` is the fingerprint of what it was filled from."""

    version = forms.CharField(required=False, widget=forms.HiddenInput)

    def values(self) -> dict:
        return {name: value for name, value in self.cleaned_data.items() if name != "version"}

    def refresh_version(self, version: str) -> None:
        """After a conflict: keep the typed values, so that sending them again overwrites."""
        self.data = self.data.copy()
        self.data["version"] = version


# Console account passwords have no server-side ceiling; this only keeps absurd pastes out.
PASSWORD_MAX = 4096
EMAIL_MAX = 254


class SignInForm(forms.Form):
    email = forms.EmailField(
        label="Email", max_length=EMAIL_MAX, widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True})
    )
    password = forms.CharField(
        label="Password",
        max_length=PASSWORD_MAX,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class SignUpForm(forms.Form):
    email = forms.EmailField(
        label="Work email",
        max_length=EMAIL_MAX,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}),
    )
    password = forms.CharField(
        label="Password",
        help_text="At least 8 characters; not a common password.",
        max_length=PASSWORD_MAX,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )


class ForgotPasswordForm(forms.Form):
    email = forms.EmailField(
        label="Email", max_length=EMAIL_MAX, widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True})
    )


class NewPasswordForm(forms.Form):
    new_password = forms.CharField(
        label="New password",
        help_text="At least 8 characters; not a common password.",
        max_length=PASSWORD_MAX,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password", "autofocus": True}),
    )
    re_new_password = forms.CharField(
        label="New password again",
        max_length=PASSWORD_MAX,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("new_password") != cleaned.get("re_new_password") and "re_new_password" in cleaned:
            self.add_error("re_new_password", "The two passwords differ.")
        return cleaned


class ProjectNameForm(VersionedForm):
    name = forms.CharField(
        label="Project name", max_length=PROJECT_NAME_MAX, widget=forms.TextInput(attrs={"placeholder": "My app"})
    )


class DeleteProjectForm(forms.Form):
    confirm_name = forms.CharField(
        label="Type the project's name to confirm", required=False, strip=False, max_length=PROJECT_NAME_MAX
    )


class KeyForm(forms.Form):
    kind = forms.ChoiceField(
        label="Kind",
        choices=[("publishable", "Publishable (pk_): safe in apps"), ("secret", "Secret (sk_): servers only")],
    )
    name = forms.CharField(
        label="Label", required=False, max_length=KEY_NAME_MAX, widget=forms.TextInput(attrs={"placeholder": "iOS app"})
    )


class RoleForm(forms.Form):
    role = forms.ChoiceField(label="Role", choices=[(role, role.capitalize()) for role in ROLES])


class CorsForm(VersionedForm):
    cors_origins = forms.CharField(
        label="Allowed origins",
        required=False,
        max_length=settings.BASALT_MAX_JSON_BODY,
        help_text="One per line, e.g. https://app.example.com. Use * to allow any origin.",
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false"}),
    )

    def origins(self) -> list[str]:
        return [line.strip() for line in self.cleaned_data["cors_origins"].splitlines() if line.strip()]


LIMIT_LABELS = {
    "max_json_body": "Largest JSON body (bytes)",
    "max_page_size": "Largest page (limit)",
    "max_in_values": "Values in $in / $nin / $all",
    "max_where_depth": "Where nesting depth",
    "max_regex_length": "Regex length",
    "max_batch_requests": "Requests per batch",
    "max_expand_depth": "Expand depth",
    "max_file_size": "Largest file (bytes)",
}


class LimitsForm(VersionedForm):
    """One integer input per limit; the ceiling shown is the service's, which re-checks it."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, ceiling in LIMIT_CEILINGS.items():
            self.fields[name] = forms.IntegerField(
                label=LIMIT_LABELS.get(name, name), help_text=f"1 – {ceiling:,}", required=True
            )


class InviteForm(forms.Form):
    email = forms.EmailField(label="Email to invite", max_length=EMAIL_MAX)
    role = forms.ChoiceField(label="Role", choices=[(role, role.capitalize()) for role in ROLES], initial="developer")

    def __init__(self, *args, **kwargs):
        # Stable ids the members page and its tests address (the form once shared the page).
        kwargs.setdefault("auto_id", "id_invite_%s")
        super().__init__(*args, **kwargs)


# The auth settings accept a scheme and up to 500 further characters: 500 always fits.
URL_MAX = 500
AUTH_BOOLEANS = ("password_reject_common", "require_verified_email_for_login", "anonymous_enabled", "sign_up_enabled")


class AuthSettingsForm(VersionedForm):
    """The identity `auth` section as one form; bounds are the service's, which re-checks them."""

    password_min_length = forms.IntegerField(label="Minimum password length", help_text="6 – 128 characters")
    password_require_classes = forms.MultipleChoiceField(
        label="Passwords must contain",
        required=False,
        choices=[("lower", "Lowercase"), ("upper", "Uppercase"), ("digit", "Digit"), ("symbol", "Symbol")],
        widget=forms.CheckboxSelectMultiple,
    )
    password_reject_common = forms.BooleanField(label="Reject common passwords", required=False)
    access_token_ttl = forms.IntegerField(label="Access token lifetime (seconds)", help_text="60 – 86,400 (1 day)")
    refresh_token_ttl = forms.IntegerField(
        label="Refresh token lifetime (seconds)", help_text="3,600 – 31,536,000 (365 days)"
    )
    max_sessions_per_user = forms.IntegerField(
        label="Sessions per user",
        required=False,
        help_text="1 – 1,000; signing in past it ends the user's least recently used session",
    )
    require_verified_email_for_login = forms.BooleanField(label="Require a verified email to sign in", required=False)
    anonymous_enabled = forms.BooleanField(label="Allow anonymous sign-in", required=False)
    sign_up_enabled = forms.BooleanField(label="Allow end-user sign-up", required=False)
    verify_url = forms.CharField(
        label="Email verification link",
        required=False,
        max_length=URL_MAX,
        help_text="Absolute URL in your app; {token} is replaced. Empty: the email carries the bare token.",
    )
    reset_url = forms.CharField(
        label="Password reset link",
        required=False,
        max_length=URL_MAX,
        help_text="Absolute URL in your app; {token} is replaced.",
    )

    def __init__(self, *args, read_only: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.disabled = read_only

    def section(self) -> dict:
        data = self.values()
        data["password_require_classes"] = list(data["password_require_classes"])
        data["verify_url"] = data["verify_url"].strip()
        data["reset_url"] = data["reset_url"].strip()
        if data.get("max_sessions_per_user") is None:
            data.pop("max_sessions_per_user", None)  # left empty: keep what is stored
        return data
