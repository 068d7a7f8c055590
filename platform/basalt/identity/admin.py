"""User administration with the secret key, and account self-deletion (app-store rule)."""

from __future__ import annotations

import re
from typing import Any

from django.db import transaction
from django.utils import timezone

from basalt.core.caller import Caller
from basalt.core.errors import NotFound, PermissionDenied, ValidationFailed
from basalt.identity import builtin, services, sessions
from basalt.identity.models import EndUser
from basalt.identity.passwords import verify_password
from basalt.identity.serializers import user_out

USER_ID = re.compile(r"^[a-z0-9]{1,32}\Z")
_ADMIN_FIELDS = {"disabled", "email_verified"}


def _require_secret(caller: Caller) -> None:
    if not caller.is_secret:
        raise PermissionDenied("Managing other users needs the secret key.")


def _user(caller: Caller, user_id: Any, *, lock: bool = False) -> EndUser:
    if not isinstance(user_id, str) or not USER_ID.match(user_id):
        raise NotFound("User not found.")
    queryset = EndUser.objects.select_related("project").filter(project=caller.project, pk=user_id)
    user = (queryset.select_for_update() if lock else queryset).first()
    if user is None:
        raise NotFound("User not found.")
    return user


def _admin_out(user: EndUser) -> dict[str, Any]:
    return {**user_out(user, builtin.custom_fields(user)), "disabled": user.disabled}


def get_user(caller: Caller, user_id: Any) -> dict[str, Any]:
    _require_secret(caller)
    return _admin_out(_user(caller, user_id))


@transaction.atomic
def update_user(caller: Caller, user_id: Any, body: Any) -> dict[str, Any]:
    """Set `disabled` (ends every session at once) or `email_verified`; nothing else here."""
    _require_secret(caller)
    if not isinstance(body, dict) or not body or set(body) - _ADMIN_FIELDS:
        raise ValidationFailed(details={"body": ["Send 'disabled' and/or 'email_verified' (booleans)."]})
    if not all(isinstance(value, bool) for value in body.values()):
        raise ValidationFailed(details={name: ["Must be a boolean."] for name in body})
    user = _user(caller, user_id, lock=True)
    if "disabled" in body:
        user.disabled = body["disabled"]
        if user.disabled:
            sessions.revoke_all(user, reason="disabled")
    if "email_verified" in body:
        user.email_verified = body["email_verified"]
    user.updated_at = timezone.now()
    user.save(update_fields=["disabled", "email_verified", "updated_at"])
    builtin.sync_user(user)
    return _admin_out(user)


def delete_user(caller: Caller, user_id: Any) -> None:
    _require_secret(caller)
    services.delete_user(caller.project, _user(caller, user_id).pk)


def revoke_user_sessions(caller: Caller, user_id: Any) -> None:
    _require_secret(caller)
    sessions.revoke_all(_user(caller, user_id), reason="revoked_by_admin")


def delete_me(caller: Caller, body: Any) -> None:
    """A user deletes their own account; one with a password must confirm it."""
    user = services.current_user(caller)
    if user.password:
        current = body.get("current_password") if isinstance(body, dict) else None
        if not isinstance(current, str) or not verify_password(current, user.password):
            raise ValidationFailed(
                details={"current_password": ["Required, and must be correct, to delete the account."]}
            )
    services.delete_user(caller.project, user.pk)
