"""The one decision point for data access: collection permissions, document ACLs, hidden fields.

Every documents service asks here; nothing else decides who may read or write. See README.md.
"""

from __future__ import annotations

from typing import Any

from basalt.core.caller import Caller
from basalt.core.errors import ValidationFailed
from basalt.documents import builtin
from basalt.documents.models import Collection
from basalt.documents.schema import PRINCIPAL_NAME

MAX_ACL_ENTRIES = 100
ACL_RIGHTS = frozenset({"read", "write"})


def _pointer_matches(value: Any, user_id: str) -> bool:
    if isinstance(value, list):
        return user_id in value
    return value == user_id


def can_collection_op(caller: Caller, collection: Collection, op: str, document: dict | None = None) -> bool:
    """May the caller perform `op` on the collection (and, for `pointer:` grants, on this document's data)?"""
    if caller.is_secret:
        return True
    allowed = collection.permissions.get(op)
    if not allowed:
        return False
    for principal in allowed:
        if principal == "*":
            return True
        if principal == "authenticated":
            if caller.user_id:
                return True
        elif principal.startswith("user:"):
            if caller.user_id and principal[5:] == caller.user_id:
                return True
        elif principal.startswith("role:"):
            if principal[5:] in caller.roles:
                return True
        elif principal.startswith("pointer:") and caller.user_id and document is not None:
            if _pointer_matches(document.get(principal[8:]), caller.user_id):
                return True
    return False


def pointer_grants(caller: Caller, collection: Collection, op: str) -> list[str]:
    """Pointer fields through which a find/count is allowed only for documents pointing at the caller."""
    if caller.is_secret or not caller.user_id:
        return []
    return [p[8:] for p in collection.permissions.get(op) or () if p.startswith("pointer:")]


def read_principals(caller: Caller, collection: Collection) -> frozenset[str] | None:
    """The principals a document's read list must meet; None means no ACL filter (secret key)."""
    if caller.is_secret:
        return None
    return caller.principals


def can_read(caller: Caller, stored_read: list[str]) -> bool:
    return caller.is_secret or not caller.principals.isdisjoint(stored_read)


def can_write(caller: Caller, stored_write: list[str]) -> bool:
    return caller.is_secret or not caller.principals.isdisjoint(stored_write)


def can_get(caller: Caller, collection: Collection, data: dict[str, Any], stored_read: list[str]) -> bool:
    """May the caller read this document (as GET would decide): the `get` rule, then its read ACL.

    Writes render their result through this too, so a write never shows more than a read would."""
    return can_collection_op(caller, collection, "get", data) and can_read(caller, stored_read)


def hidden_fields(caller: Caller, collection: Collection) -> frozenset[str]:
    """Protected fields the caller may not see: those protected under every principal that applies.

    Parse's rule: a field is hidden when each matching entry of `protected_fields` lists it,
    so a more specific entry (e.g. `role:admin: []`) can reveal what `*` hides.
    """
    protected = collection.protected_fields
    if caller.is_secret or not protected:
        return frozenset()
    hidden: set[str] | None = None
    principals = caller.principals
    for principal, names in protected.items():
        applies = principal in principals or (
            principal.startswith("user:") and caller.user_id is not None and principal[5:] == caller.user_id
        )
        if applies:
            hidden = set(names) if hidden is None else hidden & set(names)
    return frozenset(hidden or ())


def hidden_for(
    caller: Caller, collection: Collection, doc_id: str, hidden: frozenset[str] | None = None
) -> frozenset[str]:
    """hidden_fields for rendering one document: a user sees all of their own `users` document.

    Only rendering is exempt; filters and sorts keep the collection-wide hidden set, since a
    query on `email` would also test other users' values."""
    if builtin.owner_sees_all(collection, caller.user_id, doc_id):
        return frozenset()
    return hidden_fields(caller, collection) if hidden is None else hidden


# --- document ACLs ---------------------------------------------------------------------------


def validate_acl(raw: Any) -> dict[str, dict[str, bool]]:
    """Accept only {principal: {"read": bool, "write": bool}} with known principal shapes."""
    if not isinstance(raw, dict) or len(raw) > MAX_ACL_ENTRIES:
        raise ValidationFailed(details={"acl": [f"Must be an object of at most {MAX_ACL_ENTRIES} principals."]})
    acl: dict[str, dict[str, bool]] = {}
    for principal, rights in raw.items():
        if not _acl_principal(principal):
            raise ValidationFailed(
                details={
                    "acl": [
                        f"Unknown principal {str(principal)[:80]!r}: use *, authenticated, role:<name> or a user id."
                    ]
                }
            )
        if not isinstance(rights, dict) or not rights or set(rights) - ACL_RIGHTS:
            raise ValidationFailed(details={f"acl.{principal}": ['Must be like {"read": true, "write": false}.']})
        if not all(isinstance(value, bool) for value in rights.values()):
            raise ValidationFailed(details={f"acl.{principal}": ["Rights are true or false."]})
        kept = {right: True for right, value in rights.items() if value}
        if kept:
            acl[principal] = kept
    return acl


def _acl_principal(principal: Any) -> bool:
    if not isinstance(principal, str):
        return False
    if principal in ("*", "authenticated"):
        return True
    if principal.startswith("role:"):
        return bool(PRINCIPAL_NAME.match(principal[5:]))
    # A user id: the same alphabet as generated ids, so it can never look like `*` or `role:x`.
    return bool(PRINCIPAL_NAME.match(principal))


def default_acl(kind: str, caller: Caller) -> dict[str, dict[str, bool]]:
    owner = caller.user_id
    if kind == "public":
        return {"*": {"read": True, "write": True}}
    if kind == "owner_write_public_read":
        acl: dict[str, dict[str, bool]] = {"*": {"read": True}}
        if owner:
            acl[owner] = {"read": True, "write": True}
        return acl
    return {owner: {"read": True, "write": True}} if owner else {}


def acl_principals(acl: dict[str, dict[str, bool]]) -> tuple[list[str], list[str]]:
    """The stored read and write principal lists that SQL filters on."""
    readers = sorted(p for p, rights in acl.items() if rights.get("read"))
    writers = sorted(p for p, rights in acl.items() if rights.get("write"))
    return readers, writers
