"""App end-users of a project, their sessions, roles, signing keys and one-time tokens."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

from basalt.core.ids import random_id
from basalt.core.json import StoredJson
from basalt.projects.models import Project


def new_user_id() -> str:
    # [a-z0-9]{20}: can never equal a principal name such as "*", "authenticated" or "role:x".
    return random_id(20)


def new_session_id() -> str:
    return random_id(20)


def new_role_doc_id() -> str:
    return random_id(20)


def new_kid() -> str:
    return random_id(16, prefix="k_")


class EndUser(models.Model):
    """An app end-user; one email may exist in many projects, once per project."""

    id = models.CharField(primary_key=True, max_length=32, default=new_user_id, editable=False)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="end_users", db_index=False)
    # Stored lower-cased, so the plain unique constraint is case-insensitive.
    email = models.CharField(max_length=254, null=True, blank=True)
    username = models.CharField(max_length=32, null=True, blank=True)
    password = models.CharField(max_length=256, blank=True, default="")
    email_verified = models.BooleanField(default=False)
    is_anonymous = models.BooleanField(default=False)
    disabled = models.BooleanField(default=False)
    data = models.JSONField(decoder=StoredJson, default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "basalt_end_user"
        constraints = [
            models.UniqueConstraint(fields=["project", "email"], name="end_user_email_per_project"),
            models.UniqueConstraint("project", Lower("username"), name="end_user_username_per_project"),
        ]

    def __str__(self) -> str:
        return str(self.id)

    @property
    def has_password(self) -> bool:
        return bool(self.password)


class Session(models.Model):
    """One signed-in device: the refresh-token family and what revokes every token it issued."""

    id = models.CharField(primary_key=True, max_length=32, default=new_session_id, editable=False)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+", db_index=False)
    user = models.ForeignKey(EndUser, on_delete=models.CASCADE, related_name="sessions")
    # SHA-256 of the refresh token that may be used next; spent ones live in SpentRefreshToken.
    refresh_hash = models.CharField(max_length=64, unique=True)
    refresh_expires_at = models.DateTimeField()
    rotated_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=32, blank=True)
    user_agent = models.CharField(max_length=256, blank=True)
    ip = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "basalt_end_user_session"

    def __str__(self) -> str:
        return str(self.id)


class SpentRefreshToken(models.Model):
    """A refresh token already exchanged: presenting it again means it was stolen."""

    token_hash = models.CharField(primary_key=True, max_length=64)
    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="+")
    spent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "basalt_spent_refresh_token"

    def __str__(self) -> str:
        return str(self.session_id)


class SigningKey(models.Model):
    """A project's asymmetric access-token key; the private half is encrypted at rest."""

    ACTIVE, RETIRED = "active", "retired"

    kid = models.CharField(primary_key=True, max_length=32, default=new_kid, editable=False)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    algorithm = models.CharField(max_length=16, default="EdDSA")
    public_pem = models.TextField()
    private_encrypted = models.TextField()
    status = models.CharField(max_length=16, default=ACTIVE)
    created_at = models.DateTimeField(default=timezone.now)
    retired_at = models.DateTimeField(null=True, blank=True)
    # Tokens signed before retirement stay verifiable until this moment, then the key is dropped.
    verify_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "basalt_signing_key"
        constraints = [
            models.UniqueConstraint(fields=["project"], condition=Q(status="active"), name="one_active_key_per_project")
        ]

    def __str__(self) -> str:
        return str(self.kid)


class Role(models.Model):
    """A named group of users; `roles` lists the roles whose members inherit this one (Parse)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+", db_index=False)
    # The id of the role's document in the built-in `roles` collection (and of its relation edges).
    doc_id = models.CharField(max_length=32, unique=True, default=new_role_doc_id, editable=False)
    name = models.CharField(max_length=63)
    # Who may read the role and change its membership, in the document ACL format.
    acl = models.JSONField(decoder=StoredJson, default=dict, blank=True)
    users = models.ManyToManyField(EndUser, through="RoleMember", related_name="direct_roles")
    roles = models.ManyToManyField(
        "self", through="RoleInheritance", symmetrical=False, related_name="inherited_by_parents"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "basalt_role"
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="role_name_per_project")]

    def __str__(self) -> str:
        return str(self.name)


class RoleMember(models.Model):
    role = models.ForeignKey(Role, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(EndUser, on_delete=models.CASCADE, related_name="+")

    class Meta:
        db_table = "basalt_role_member"
        constraints = [models.UniqueConstraint(fields=["user", "role"], name="role_member_once")]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.role_id}"


class RoleInheritance(models.Model):
    """Edge: members of `child` also hold `parent` (`child` is in `parent.roles`)."""

    parent = models.ForeignKey(Role, on_delete=models.CASCADE, related_name="+")
    child = models.ForeignKey(Role, on_delete=models.CASCADE, related_name="+")

    class Meta:
        db_table = "basalt_role_inheritance"
        constraints = [models.UniqueConstraint(fields=["child", "parent"], name="role_edge_once")]

    def __str__(self) -> str:
        return f"{self.child_id} inherits {self.parent_id}"


class OneTimeToken(models.Model):
    """An emailed verification or reset token: stored hashed, expiring, redeemable once."""

    VERIFY, RESET = "verify", "reset"

    token_hash = models.CharField(primary_key=True, max_length=64)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+", db_index=False)
    user = models.ForeignKey(EndUser, on_delete=models.CASCADE, related_name="+")
    purpose = models.CharField(max_length=16)
    # The address the token was sent to: a verify token proves only that address.
    email = models.CharField(max_length=254)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "basalt_one_time_token"

    def __str__(self) -> str:
        return str(self.purpose)


class CallerEpoch(models.Model):
    """A per-project counter that database triggers bump whenever a signed-in caller may change.

    A revoked or deleted session, a disabled or deleted user, a role membership, inheritance or
    name change, and a retired or deleted signing key each bump it, in the same transaction as
    the change (migration 0003's triggers, so no code path can forget). The API-key lookup reads
    it with the key on every request, and a bearer token resolved under an older value is
    resolved again (basalt.identity.resolver): revocation takes effect on the very next request.
    No foreign key: a trigger may bump it while a project's rows are being deleted.
    """

    project_id = models.BigIntegerField(primary_key=True)
    version = models.BigIntegerField(default=0)

    class Meta:
        db_table = "basalt_caller_epoch"

    def __str__(self) -> str:
        return f"{self.project_id}@{self.version}"


class LinkedIdentity(models.Model):
    """A third-party account (Google, Apple, GitHub, …) that signs in as an EndUser."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+", db_index=False)
    user = models.ForeignKey(EndUser, on_delete=models.CASCADE, related_name="identities")
    provider = models.CharField(max_length=32)
    # The provider's stable id for the account (`sub`, GitHub's numeric id).
    subject = models.CharField(max_length=255)
    email = models.CharField(max_length=254, null=True, blank=True)
    email_verified = models.BooleanField(default=False)
    # What the provider asserted (name, picture, login); Apple's name arrives once and is kept.
    profile = models.JSONField(decoder=StoredJson, default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_sign_in_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "basalt_linked_identity"
        constraints = [
            models.UniqueConstraint(fields=["project", "provider", "subject"], name="identity_subject_per_project"),
            models.UniqueConstraint(fields=["user", "provider"], name="identity_provider_per_user"),
        ]

    def __str__(self) -> str:
        return f"{self.provider}:{self.subject}"


class MfaFactor(models.Model):
    """A user's TOTP second factor; the secret is encrypted at rest."""

    TOTP = "totp"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+", db_index=False)
    user = models.ForeignKey(EndUser, on_delete=models.CASCADE, related_name="mfa_factors")
    kind = models.CharField(max_length=16, default=TOTP)
    secret_encrypted = models.TextField()
    confirmed_at = models.DateTimeField(null=True, blank=True)
    # The last accepted 30-second step: a code of this step or an earlier one is never accepted again.
    last_step = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "basalt_mfa_factor"
        constraints = [models.UniqueConstraint(fields=["user", "kind"], name="mfa_factor_kind_per_user")]

    def __str__(self) -> str:
        return str(self.kind)


class RecoveryCode(models.Model):
    """A single-use recovery code, stored as SHA-256 (shown once at TOTP confirmation)."""

    user = models.ForeignKey(EndUser, on_delete=models.CASCADE, related_name="+")
    code_hash = models.CharField(max_length=64)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "basalt_mfa_recovery_code"
        constraints = [models.UniqueConstraint(fields=["user", "code_hash"], name="recovery_code_once")]

    def __str__(self) -> str:
        return str(self.user_id)


class AuthChallenge(models.Model):
    """A short-lived, single-use server-side secret: an `mfa_token`, an OAuth `state`, a one-time
    exchange code, a WebAuthn challenge. Stored as SHA-256; spent by a conditional UPDATE."""

    MFA, STATE, EXCHANGE, PASSKEY = "mfa", "state", "exchange", "passkey"

    token_hash = models.CharField(primary_key=True, max_length=64)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+", db_index=False)
    purpose = models.CharField(max_length=16)
    user = models.ForeignKey(EndUser, on_delete=models.CASCADE, related_name="+", null=True, blank=True)
    data = models.JSONField(decoder=StoredJson, default=dict, blank=True)
    attempts = models.IntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "basalt_auth_challenge"

    def __str__(self) -> str:
        return str(self.purpose)


class Passkey(models.Model):
    """A WebAuthn credential registered by a user (password-less sign-in or second factor)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+", db_index=False)
    user = models.ForeignKey(EndUser, on_delete=models.CASCADE, related_name="passkeys")
    credential_id = models.CharField(max_length=1400)  # base64url
    public_key = models.TextField()  # base64url COSE key
    sign_count = models.BigIntegerField(default=0)
    transports = models.JSONField(decoder=StoredJson, default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "basalt_passkey"
        constraints = [models.UniqueConstraint(fields=["project", "credential_id"], name="passkey_once_per_project")]

    def __str__(self) -> str:
        return str(self.user_id)


class AccountTotp(models.Model):
    """A console account's authenticator app (the developers' own sign-in, not app end-users').

    Kept with the other second factors; `identity/console_mfa.py` uses it."""

    account = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    secret_encrypted = models.TextField()
    confirmed_at = models.DateTimeField(null=True, blank=True)
    last_step = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "basalt_account_totp"

    def __str__(self) -> str:
        return str(self.account_id)
