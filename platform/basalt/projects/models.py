"""Projects (tenants), their API keys and their console members."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from basalt.core.ids import random_id
from basalt.core.json import StoredJson
from basalt.projects.roles import ROLES, Perm


def new_project_ref() -> str:
    return random_id(20)


def new_key_id() -> str:
    return random_id(16, prefix="key_")


class Project(models.Model):
    ref = models.CharField(max_length=32, unique=True, default=new_project_ref)
    name = models.CharField(max_length=100)
    created_at = models.DateTimeField(default=timezone.now)
    # Bumped on every schema change so per-process schema caches know they are stale.
    schema_version = models.PositiveBigIntegerField(default=1)
    settings = models.JSONField(decoder=StoredJson, default=dict, blank=True)

    class Meta:
        db_table = "basalt_project"
        permissions = [(perm.value, perm.value.replace("_", " ")) for perm in Perm]
        default_permissions = ()

    def __str__(self) -> str:
        return f"{self.name} ({self.ref})"


class ApiKey(models.Model):
    PUBLISHABLE = "publishable"
    SECRET = "secret"
    KINDS = [(PUBLISHABLE, "publishable"), (SECRET, "secret")]

    id = models.CharField(primary_key=True, max_length=32, default=new_key_id, editable=False)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="keys")
    kind = models.CharField(max_length=16, choices=KINDS)
    name = models.CharField(max_length=100, blank=True)
    # SHA-256 of the whole key: keys carry 190+ bits of randomness, so a fast hash is safe and
    # lets one indexed lookup resolve a request.
    key_hash = models.CharField(max_length=64, unique=True)
    last4 = models.CharField(max_length=4)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "basalt_api_key"
        indexes = [models.Index(fields=["project", "created_at"])]

    def __str__(self) -> str:
        return f"{self.kind} key …{self.last4} ({self.id})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class Membership(models.Model):
    """A console account's role on a project; the role's object permissions live in guardian."""

    ROLE_CHOICES = [(role, role) for role in ROLES]

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    account = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=ROLE_CHOICES)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "basalt_membership"
        constraints = [models.UniqueConstraint(fields=["project", "account"], name="one_membership_per_account")]

    def __str__(self) -> str:
        return f"{self.account_id} as {self.role} on {self.project_id}"


def new_invitation_id() -> str:
    return random_id(16, prefix="inv_")


class Invitation(models.Model):
    """A pending offer of a role on a project to an email address; only the token's hash is stored."""

    id = models.CharField(primary_key=True, max_length=32, default=new_invitation_id, editable=False)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField(max_length=254)
    role = models.CharField(max_length=16, choices=Membership.ROLE_CHOICES)
    # SHA-256 of a 256-bit random token: a fast hash suffices and allows one indexed lookup.
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "basalt_invitation"
        indexes = [models.Index(fields=["project", "created_at"])]

    def __str__(self) -> str:
        return f"{self.email} as {self.role} on {self.project_id}"

    @property
    def status(self) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.accepted_at is not None:
            return "accepted"
        if self.expires_at <= timezone.now():
            return "expired"
        return "pending"
