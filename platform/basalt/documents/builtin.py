"""Built-in collections mirrored from identity rows: what the documents API may never write or loosen there.

`users` and `roles` documents are written by the identity area in the same transaction as its
own rows (EndUser, Role, memberships), which stay the source of truth for logins and per-request
roles. A write through the documents API that touched those fields would leave the two apart
(an orphan `users` document, an email the login row does not know, a self-verified address,
membership nobody authorised), so the document services refuse them here, for every face and
every key, the secret key included. Custom fields a developer declares stay writable under the
collection's rules. Parse treats `_User` the same way: data-API writes go through user logic.
Kept in this area (not looked up from identity) so the guard holds even if nothing registers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from basalt.core.errors import PermissionDenied, ValidationFailed
from basalt.documents.models import Collection
from basalt.documents.writes import same_json


@dataclass(frozen=True)
class Managed:
    """One identity-owned collection: its identity fields and where clients change them instead."""

    fields: frozenset[str]
    acl_managed: bool
    create_hint: str
    update_hint: str
    delete_hint: str


MANAGED: dict[str, Managed] = {
    "users": Managed(
        fields=frozenset({"email", "username", "email_verified", "is_anonymous", "password"}),
        # A user document's ACL is only its visibility; identity never reads it back.
        acl_managed=False,
        create_hint="End-users are created with POST /api/v1/auth/signup or /api/v1/auth/anonymous.",
        update_hint=(
            "Managed by identity: a user changes it with PATCH /api/v1/auth/me; the secret key uses "
            "PATCH /api/v1/auth/users/{id}."
        ),
        delete_hint=(
            "End-users are deleted with DELETE /api/v1/auth/me or, with the secret key, DELETE /api/v1/auth/users/{id}."
        ),
    ),
    "roles": Managed(
        fields=frozenset({"name", "users", "roles"}),
        # The Role row's ACL decides who may change membership; the document only mirrors it.
        acl_managed=True,
        create_hint="Roles are created with POST /api/v1/roles (secret key).",
        update_hint="Managed by the roles service: use /api/v1/roles/{name} and its users/roles sub-resources.",
        delete_hint="Roles are deleted with DELETE /api/v1/roles/{name} (secret key).",
    ),
    # Push devices (basalt.push): the push area upserts them by token and keeps `user` and `active` true.
    "installations": Managed(
        fields=frozenset(
            {"platform", "provider", "token", "channels", "locale", "timezone"}
            | {"app_version", "badge", "user", "active", "custom"}
        ),
        acl_managed=True,
        create_hint="Installations are registered with POST /api/v1/installations.",
        update_hint="Managed by push: use PATCH /api/v1/installations/{id}.",
        delete_hint="Installations are deleted with DELETE /api/v1/installations/{id}.",
    ),
}

# On `users`, these stay hidden from everyone but the user themself and the secret key (API.md §2).
# On `installations`, the device token stays hidden from every caller but the secret key.
LOCKED_PROTECTED: dict[str, frozenset[str]] = {
    "users": frozenset({"email", "email_verified"}),
    "installations": frozenset({"token"}),
}


def managed(collection: Collection) -> Managed | None:
    if not collection.builtin:
        return None
    return MANAGED.get(collection.name)


def refuse_create(collection: Collection) -> None:
    rules = managed(collection)
    if rules is not None:
        raise PermissionDenied(rules.create_hint)


def refuse_delete(collection: Collection) -> None:
    rules = managed(collection)
    if rules is not None:
        raise PermissionDenied(rules.delete_hint)


def refuse_identity_fields(
    collection: Collection, body: Any, data: dict[str, Any], acl: dict[str, Any], hidden: frozenset[str]
) -> Any:
    """The body without identity fields that restate the current value; 400 if any would change.

    Resending the current value is a no-op (a form or SDK that sends the whole document back);
    changing, unsetting or operating on one is refused and names each field. Nothing is written.
    A field hidden from the caller is always refused, so 200-vs-400 cannot test a guess of it."""
    rules = managed(collection)
    if rules is None or not isinstance(body, dict):
        return body
    changed: list[str] = []
    unchanged: set[str] = set()
    for key, value in body.items():
        if key in rules.fields:
            if key in data and key not in hidden and same_json(value, data[key]):
                unchanged.add(key)
            else:
                changed.append(key)
        elif key == "acl" and rules.acl_managed:
            if same_json(value, acl):
                unchanged.add(key)
            else:
                changed.append(key)
    if changed:
        raise ValidationFailed(
            message=rules.update_hint, details={str(key): [rules.update_hint] for key in sorted(changed)}
        )
    return {key: value for key, value in body.items() if key not in unchanged} if unchanged else body


def refuse_server_fields(collection: Collection, body: Any, protected: frozenset[str]) -> None:
    """On `users`, a custom field protected from the caller is the server's to set (credits, plan).

    The user reads every field of their own document (`owner_sees_all`), but reading is all the
    owner exemption grants: a write of a field protected under the caller's principals is 403
    for every face (documents API, sign-up, PATCH /auth/me); the secret key is never refused."""
    rules = managed(collection)
    if rules is None or collection.name != "users" or not isinstance(body, dict) or not protected:
        return
    refused = sorted(str(key) for key in body if key in protected and key not in rules.fields)
    if refused:
        message = "Protected fields of users are set with the secret key, not by the user."
        raise PermissionDenied(message, details={key: [message] for key in refused})


def owner_sees_all(collection: Collection, caller_user_id: str | None, doc_id: str) -> bool:
    """A user reads every field of their own `users` document (protected fields exempt the owner)."""
    return bool(caller_user_id) and doc_id == caller_user_id and collection.builtin and collection.name == "users"


def check_builtin_schema(
    collection: Collection, before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]], protected: dict
) -> None:
    """Built-in rules can be tightened, never opened past safety: fields kept, secrets kept protected."""
    if not collection.builtin:
        return
    errors: dict[str, list[str]] = {}
    for name, definition in before.items():
        if not definition.get("builtin"):
            continue
        if name not in after:
            errors[f"fields.{name}"] = ["A built-in field cannot be removed."]
        elif _without_flag(after[name]) != _without_flag(definition):
            errors[f"fields.{name}"] = ["A built-in field cannot be changed."]
    rules = managed(collection)
    for name in sorted(rules.fields if rules else ()):
        if name in after and name not in before:
            errors[f"fields.{name}"] = ["Reserved for identity; it cannot be declared."]
    locked = LOCKED_PROTECTED.get(collection.name, frozenset())
    if locked:
        # hidden_fields() hides a field when every entry that applies lists it, and `*` always
        # applies: so `*` must list them and no other entry may leave them out.
        if "*" not in protected:
            errors["protected_fields"] = [f"'*' must keep {', '.join(sorted(locked))} protected."]
        for principal, names in protected.items():
            missing = locked - set(names)
            if missing:
                errors[f"protected_fields.{principal}"] = [
                    f"{', '.join(sorted(missing))} stay protected: only the user and the secret key read them."
                ]
    if errors:
        raise ValidationFailed(details=errors)


def _without_flag(definition: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in definition.items() if key != "builtin"}
