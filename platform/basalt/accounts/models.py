"""Console accounts: the app developers who own projects (never a project's end-users)."""

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.crypto import salted_hmac

from basalt.core.ids import random_id


class AccountManager(BaseUserManager):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **extra):
        if not email:
            raise ValueError("An account needs an email address.")
        account = self.model(email=self.normalize_email(email.strip()).lower(), **extra)
        account.set_password(password)
        account.save(using=self._db)
        return account

    def create_superuser(self, email: str, password: str | None = None, **extra):
        extra.update(is_staff=True, is_superuser=True)
        return self.create_user(email, password, **extra)

    def get_by_natural_key(self, username):
        return self.get(**{f"{self.model.USERNAME_FIELD}__iexact": username})


class Account(AbstractBaseUser, PermissionsMixin):
    email = models.EmailField(unique=True)
    name = models.CharField(max_length=150, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)
    # Bumped (never set) by `basalt.accounts.sessions.revoke_all`: every console token and web
    # session carries the generation it was issued under and dies when it moves on.
    token_generation = models.PositiveIntegerField(default=0, editable=False)

    objects = AccountManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        db_table = "basalt_account"
        # Sign-in looks accounts up case-insensitively, so two spellings of one address would make
        # that lookup ambiguous; the database refuses them whatever code path writes the row.
        constraints = [models.UniqueConstraint(Lower("email"), name="account_email_ci_unique")]

    def __str__(self) -> str:
        return self.email

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The address as loaded, to tell an email change at save (None when the field is deferred).
        self._stored_email = self.__dict__.get("email")

    def save(self, *args, **kwargs):
        # Django marks a real password change (not a hash upgrade) by leaving `_password` set.
        password_changed = self._password is not None and not self._state.adding
        # A new address is a new identity for sign-in and reset mail: whoever holds a session
        # opened under the old one (a thief the owner is locking out) must not keep it.
        email_changed = (
            not self._state.adding
            and self._stored_email is not None
            and self.email != self._stored_email
            and (kwargs.get("update_fields") is None or "email" in kwargs["update_fields"])
        )
        if not self._state.adding:
            # A stale copy saved later must not write an old generation back and revive the
            # tokens a revocation ended: only the atomic increment in revoke_all writes it.
            fields = kwargs.get("update_fields")
            if fields is None:
                fields = [f.name for f in self._meta.concrete_fields if not f.primary_key]
            kwargs["update_fields"] = [name for name in fields if name != "token_generation"]
        super().save(*args, **kwargs)
        self._stored_email = self.email
        if password_changed or email_changed:
            from basalt.accounts import sessions  # the service imports this module

            sessions.revoke_all(self, reason="password_changed" if password_changed else "email_changed")

    def _get_session_auth_hash(self, secret=None):
        # Django keeps a console web session only while this matches the hash stored at sign-in:
        # the generation makes "sign out everywhere" end web sessions as well as tokens.
        return salted_hmac(
            "django.contrib.auth.models.AbstractBaseUser.get_session_auth_hash",
            f"{self.password}:{self.token_generation}",
            secret=secret,
            algorithm="sha256",
        ).hexdigest()


def new_session_id() -> str:
    return random_id(20)


class ConsoleSession(models.Model):
    """One console sign-in through the API: the family of refresh tokens it hands out, in turn."""

    id = models.CharField(primary_key=True, max_length=32, default=new_session_id, editable=False)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="console_sessions")
    # The `jti` of the one refresh token that may be exchanged next; any older one of this family
    # presented again is a replay and ends the session.
    refresh_jti = models.CharField(max_length=64, unique=True)
    refresh_expires_at = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=32, blank=True)

    class Meta:
        db_table = "basalt_console_session"

    def __str__(self) -> str:
        return str(self.id)
