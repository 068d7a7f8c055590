"""End-user sign-up, sign-in, anonymous users and the `me` operations (one function each)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models.functions import Lower
from django.utils import timezone

from basalt.core.caller import Caller
from basalt.core.errors import (
    BasaltError,
    InvalidCredentials,
    PermissionDenied,
    Unauthenticated,
    UniqueViolation,
    ValidationFailed,
    body_object,
)
from basalt.documents import services as documents
from basalt.documents.writes import prepare_create
from basalt.identity import builtin, builtin_roles, events, mfa, recovery, sessions, throttle
from basalt.identity.auth_settings import auth_settings
from basalt.identity.models import EndUser
from basalt.identity.passwords import burn_hash, check_policy, hash_password, verify_password
from basalt.identity.serializers import session_out, user_out
from basalt.identity.userdata import clean_custom, clean_email, clean_username
from basalt.projects.models import Project


class EmailNotVerified(BasaltError):
    status = 403
    code = "email_not_verified"
    default_message = "Confirm your email address before signing in."


@dataclass(frozen=True)
class Client:
    """Where a request came from, for session listings and the address throttle."""

    ip: str = ""
    user_agent: str = ""


_SIGNUP_OWN = {"email", "password", "username"}


def _body(value: Any) -> dict[str, Any]:
    body_object(value)
    return value


def _signed_in(user: EndUser, pair: sessions.TokenPair | None, custom: dict[str, Any]) -> dict[str, Any]:
    tokens = pair.as_dict() if pair else {"access_token": None, "refresh_token": None, "expires_in": None}
    return {"user": user_out(user, custom), **tokens}


def _unique_error(project: Project, email: str | None, username: str | None, exclude: str | None = None):
    users = EndUser.objects.filter(project=project)
    if exclude:
        users = users.exclude(pk=exclude)
    if email and users.filter(email=email).exists():
        return UniqueViolation("This email is already registered.", details={"email": ["Already registered."]})
    if username and users.annotate(lname=Lower("username")).filter(lname=username.lower()).exists():
        return UniqueViolation("This username is taken.", details={"username": ["Already taken."]})
    return None


def sign_up(caller: Caller, body: Any, client: Client) -> dict[str, Any]:
    """Create an account. Custom fields follow the `users` create rules (`_signup_fields`).

    Every attempt of a key-holder counts against the address's budget before anything is looked
    up, so no answer (409 included) is free. With email confirmation on, an address that is
    already registered gets the answer a new one gets and its owner an email: nothing tells the
    caller whether the address was known."""
    body = _body(body)
    project = caller.project
    policy = auth_settings(project)
    if not policy.sign_up_enabled:
        raise PermissionDenied("Sign-up is closed for this project.")
    if not caller.is_secret:  # the secret key (and the console) create accounts on purpose
        throttle.account_creation(project.pk, client.ip)
    email = clean_email(body["email"]) if body.get("email") is not None else None
    username = clean_username(body["username"]) if body.get("username") is not None else None
    if email is None and username is None:
        raise ValidationFailed(details={"email": ["An email (or a username) is required."]})
    password = check_policy(body.get("password"), policy)
    custom = _signup_fields(caller, body)
    confirming = policy.require_verified_email_for_login and email is not None and not caller.is_secret

    def taken(error: UniqueViolation) -> dict[str, Any]:
        if confirming and "email" in (error.details or {}):
            recovery.warn_registered(project, email)
            return _pending(email, username, custom)
        raise error

    if (error := _unique_error(project, email, username)) is not None:
        burn_hash(password)  # the Argon2 work a new account costs: taken looks as slow as new
        return taken(error)
    encoded = hash_password(password)  # Argon2 outside the transaction: no lock held while hashing
    try:
        with transaction.atomic():
            user = EndUser.objects.create(
                project=project, email=email, username=username, password=encoded, data=_merge({}, custom)
            )
            stored = builtin.sync_user(user, custom)
            pair = (
                None
                if policy.require_verified_email_for_login
                else sessions.start_session(user, user_agent=client.user_agent, ip=client.ip)
            )
            if email and policy.require_verified_email_for_login:
                recovery.issue_email_token(user, "verify")
    except IntegrityError:  # a concurrent sign-up won the race for the address or name
        return taken(_unique_error(project, email, username) or UniqueViolation(details={"email": ["Taken."]}))
    if confirming:
        return _pending(email, username, stored)
    return _signed_in(user, pair, stored)


def _signup_fields(caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
    """Custom fields sent with a sign-up, through the documents area's create rules.

    Sent fields need the `users` collection's `create` permission and may not be protected from
    the caller, exactly as a document create; defaults and required fields apply either way."""
    sent = clean_custom({k: v for k, v in body.items() if k not in _SIGNUP_OWN})
    schema = builtin.users_schema(caller.project)
    changes = documents.check_create(caller, schema, sent) if sent else prepare_create(schema, {})
    if changes.add_edges:
        raise ValidationFailed(
            details={
                name: ["Relation fields of users are changed through the documents API."] for name in changes.add_edges
            }
        )
    return changes.data


def _pending(email: str | None, username: str | None, custom: dict[str, Any]) -> dict[str, Any]:
    """The sign-up answer while the address is unconfirmed: no session, and no id or timestamps,
    which a registered address could not produce without revealing it is registered."""
    user = {**custom, "email": email, "username": username, "email_verified": False, "is_anonymous": False}
    return {"user": user, "access_token": None, "refresh_token": None, "expires_in": None}


def _find_for_login(project: Project, body: dict[str, Any]) -> tuple[EndUser | None, str]:
    """The account named by email or username, and the throttle identity for the attempt."""
    has_email, has_username = body.get("email") is not None, body.get("username") is not None
    if has_email == has_username:
        raise ValidationFailed(details={"email": ["Send either an email or a username."]})
    if not isinstance(body.get("password"), str) or len(body["password"]) > 1024:
        raise ValidationFailed(details={"password": ["Must be a string."]})
    if has_email:
        raw = body["email"]
        if not isinstance(raw, str) or len(raw) > 254 or "\x00" in raw:
            raise ValidationFailed(details={"email": ["Must be a string."]})
        identity = "e:" + raw.strip().lower()
        user = EndUser.objects.filter(project=project, email=raw.strip().lower()).first()
    else:
        raw = body["username"]
        if not isinstance(raw, str) or len(raw) > 64 or "\x00" in raw:
            raise ValidationFailed(details={"username": ["Must be a string."]})
        identity = "u:" + raw.strip().lower()
        user = (
            EndUser.objects.filter(project=project)
            .annotate(lname=Lower("username"))
            .filter(lname=raw.strip().lower())
            .first()
        )
    # One bucket per account however it is named (email or username); per name when unknown.
    return user, ("id:" + user.pk) if user else identity


def log_in(project: Project, body: Any, client: Client) -> dict[str, Any]:
    """Check a password; unknown, wrong, disabled or password-less accounts look alike."""
    body = _body(body)
    user, identity = _find_for_login(project, body)
    throttle.attempt(project.pk, identity, client.ip)
    password = body["password"]
    if user is None:
        burn_hash(password)
        raise InvalidCredentials()

    def upgrade(raw: str) -> None:
        EndUser.objects.filter(pk=user.pk).update(password=hash_password(raw))

    if not verify_password(password, user.password, upgrade) or user.disabled:
        raise InvalidCredentials()
    throttle.succeeded(project.pk, identity, client.ip)
    if auth_settings(project).require_verified_email_for_login and not user.email_verified:
        raise EmailNotVerified()
    # A second factor, when the user has one or the project requires it (401 mfa_required).
    pair = mfa.gate(user, user_agent=client.user_agent, ip=client.ip)
    return _signed_in(user, pair, builtin.custom_fields(user))


def sign_in_anonymously(project: Project, client: Client) -> dict[str, Any]:
    if not auth_settings(project).anonymous_enabled:
        raise PermissionDenied("Anonymous sign-in is off for this project.")
    throttle.account_creation(project.pk, client.ip)
    with transaction.atomic():
        user = EndUser.objects.create(project=project, is_anonymous=True)
        stored = builtin.sync_user(user)
        pair = sessions.start_session(user, user_agent=client.user_agent, ip=client.ip)
    return _signed_in(user, pair, stored)


def current_user(caller: Caller) -> EndUser:
    if not caller.user_id:
        raise Unauthenticated("Sign in first: send 'Authorization: Bearer <access_token>'.")
    user = EndUser.objects.filter(project=caller.project, pk=caller.user_id).first()
    if user is None:
        raise Unauthenticated()
    return user


def get_me(caller: Caller) -> dict[str, Any]:
    user = current_user(caller)
    return user_out(user, builtin.custom_fields(user))


_ME_OWN = {"email", "username", "password", "current_password"}


def update_me(caller: Caller, body: Any, client: Client | None = None) -> dict[str, Any]:
    """Change own profile; email/password need the current password, or upgrade an anonymous user."""
    user = current_user(caller)  # 401 before the body's 400 (api.views.MeView)
    body = _body(body)
    if body.get("email") is not None and body["email"] != user.email:
        # A taken address answers 409 here too (an anonymous upgrade needs no password): each
        # try spends the sign-up budget of the address, so this is no cheaper oracle than sign-up.
        throttle.account_creation(caller.project.pk, (client or Client()).ip)
    policy = auth_settings(caller.project)
    custom = clean_custom({k: v for k, v in body.items() if k not in _ME_OWN})
    email = clean_email(body["email"]) if "email" in body else None
    username = clean_username(body["username"]) if body.get("username") is not None else None
    new_password = check_policy(body["password"], policy) if "password" in body else None
    upgrading = user.is_anonymous and (email is not None or new_password is not None)
    if upgrading and (email is None or new_password is None):
        raise ValidationFailed(details={"password": ["An anonymous user upgrades with email and password together."]})
    changes_credentials = (email is not None and email != user.email) or new_password is not None
    if changes_credentials and not upgrading:
        current = body.get("current_password")
        if not isinstance(current, str) or not verify_password(current, user.password):
            raise ValidationFailed(details={"current_password": ["Required, and must be correct, to change this."]})
    if (error := _unique_error(caller.project, email, username, exclude=user.pk)) is not None:
        raise error
    encoded = hash_password(new_password) if new_password is not None else None
    try:
        with transaction.atomic():
            user = EndUser.objects.select_for_update().get(pk=user.pk)
            if custom:
                # Custom fields are a document write like any other: the `users` update
                # permission, the document's ACL, protected fields, field types and operators.
                documents.update_document(caller, builtin.USERS, user.pk, custom)
            identity_before = builtin.identity_fields(user)
            if email is not None and email != user.email:
                user.email, user.email_verified = email, False
            if "username" in body:
                user.username = username
            if encoded is not None:
                user.password = encoded
                sessions.revoke_all(user, except_session=caller.session_id, reason="password_changed")
            if upgrading:
                user.is_anonymous = False
            user.updated_at = timezone.now()
            stored = builtin.custom_fields(user)
            user.data = stored  # the legacy mirror follows the document
            user.save()
            if builtin.identity_fields(user) != identity_before:
                builtin.sync_user(user)
    except IntegrityError:
        raise _unique_error(caller.project, email, username, exclude=user.pk) or UniqueViolation()
    return user_out(user, stored)


def _merge(data: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    merged = dict(data)
    for name, value in changes.items():
        if value is None:
            merged.pop(name, None)  # null removes a custom field, as `unset` does for documents
        else:
            merged[name] = value
    return merged


def log_out(caller: Caller) -> None:
    current_user(caller)
    sessions.revoke_sessions(sessions.Session.objects.filter(pk=caller.session_id), reason="logout")


def my_sessions(caller: Caller) -> list[dict[str, Any]]:
    user = current_user(caller)
    return [session_out(s, caller.session_id) for s in sessions.list_sessions(caller.project, user.pk)]


def revoke_my_session(caller: Caller, session_id: Any) -> None:
    user = current_user(caller)
    sessions.revoke_session(caller.project, user.pk, session_id)


@transaction.atomic
def set_disabled(project: Project, user_id: str, disabled: bool) -> None:
    """Disable (or re-enable) a user; disabling ends every session at once."""
    user = EndUser.objects.select_for_update().get(project=project, pk=user_id)
    user.disabled = disabled
    user.updated_at = timezone.now()
    user.save(update_fields=["disabled", "updated_at"])
    if disabled:
        sessions.revoke_all(user, reason="disabled")


@transaction.atomic
def delete_user(project: Project, user_id: str) -> None:
    """Delete a user, their sessions (so their tokens die at once) and their `users` document."""
    session_ids = tuple(sessions.Session.objects.filter(project=project, user_id=user_id).values_list("pk", flat=True))
    EndUser.objects.filter(project=project, pk=user_id).delete()
    if session_ids:
        events.publish_on_commit(events.SessionsEnded(project.pk, session_ids, "user_deleted"))
    builtin.remove_user(project, user_id)
    builtin_roles.forget_user(project, user_id)


def admin_update_user(project: Project, user_id: str, body: Any) -> dict[str, Any]:
    """Change a user's email, username or verified flag as the project's administrator (console,
    secret key): no current password; a new email is unverified unless marked verified with it."""
    body = _body(body)
    unknown = set(body) - {"email", "username", "email_verified"}
    if unknown:
        raise ValidationFailed(details={sorted(unknown)[0][:64]: ["Not a field an administrator edits here."]})
    email = clean_email(body["email"]) if body.get("email") not in (None, "") else None
    username = clean_username(body["username"]) if body.get("username") not in (None, "") else None
    verified = body.get("email_verified")
    if verified is not None and not isinstance(verified, bool):
        raise ValidationFailed(details={"email_verified": ["Must be true or false."]})
    if (error := _unique_error(project, email, username, exclude=user_id)) is not None:
        raise error
    try:
        with transaction.atomic():
            user = EndUser.objects.select_for_update().get(project=project, pk=user_id)
            before = builtin.identity_fields(user)
            if "email" in body and email != user.email:
                user.email, user.email_verified = email, False
            if "username" in body:
                user.username = username
            if verified is not None:
                if verified and not user.email:
                    raise ValidationFailed(details={"email_verified": ["The user has no email to verify."]})
                user.email_verified = verified
            user.updated_at = timezone.now()
            user.save()
            if builtin.identity_fields(user) != before:
                builtin.sync_user(user)
    except IntegrityError:
        raise _unique_error(project, email, username, exclude=user_id) or UniqueViolation() from None
    return user_out(user, builtin.custom_fields(user))
