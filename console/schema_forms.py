"""Turn schema-editor form posts into the collection bodies the documents catalog validates."""

from __future__ import annotations

import json
from typing import Any

from basalt.core.errors import ValidationFailed
from console.preconditions import fingerprint

OPERATIONS = ("get", "find", "count", "create", "update", "delete")
FIELD_TYPES = ("string", "number", "boolean", "date", "object", "array", "pointer", "relation", "file", "geopoint")
ITEM_TYPES = ("string", "number", "boolean", "date", "object", "pointer", "geopoint")
# Which option inputs the editor shows per type (mirrors each FieldType.options; the catalog re-checks).
TYPE_OPTIONS: dict[str, tuple[str, ...]] = {
    "string": ("max_length", "choices", "default"),
    "number": ("min", "max", "choices", "default"),
    "boolean": ("default",),
    "date": ("min", "max", "default"),
    "object": ("default",),
    "array": ("items", "to", "max_length", "default"),
    "pointer": ("to",),
    "relation": ("to",),
    "file": (),
    "geopoint": ("default",),
}

PRESETS: dict[str, dict[str, Any]] = {
    "locked": {
        "label": "Locked",
        "help": "Only the secret key (your servers) can read or write. The safe starting point.",
        "permissions": {},
        "default_acl": "owner",
    },
    "public_read_owner_write": {
        "label": "Public read, owner write",
        "help": "Anyone with the publishable key reads; signed-in users create; only a document's creator changes it.",
        "permissions": {
            "get": ["*"],
            "find": ["*"],
            "count": ["*"],
            "create": ["authenticated"],
            "update": ["authenticated"],
            "delete": ["authenticated"],
        },
        "default_acl": "owner_write_public_read",
    },
    "private_to_owner": {
        "label": "Private to owner",
        "help": "Signed-in users see and change only the documents they created.",
        "permissions": {op: ["authenticated"] for op in OPERATIONS},
        "default_acl": "owner",
    },
    "signed_in": {
        "label": "Signed-in users",
        "help": "Every signed-in user reads and writes every document.",
        "permissions": {op: ["authenticated"] for op in OPERATIONS},
        "default_acl": "public",
    },
}
DEFAULT_ACL_LABELS = {
    "owner": "Creator only (read + write)",
    "owner_write_public_read": "Everyone reads, creator writes",
    "public": "Everyone reads and writes",
}


def preset_of(collection: dict[str, Any]) -> str | None:
    """The preset a collection's rules match exactly, or None for custom rules."""
    permissions = {op: list(p) for op, p in (collection.get("permissions") or {}).items() if p}
    for key, preset in PRESETS.items():
        if permissions == preset["permissions"] and collection.get("default_acl") == preset["default_acl"]:
            return key
    return None


def is_locked(collection: dict[str, Any]) -> bool:
    return not any(collection.get("permissions", {}).get(op) for op in OPERATIONS)


def _json_value(raw: str, name: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        raise ValidationFailed(details={name: ['Not valid JSON (strings need quotes, e.g. "draft").']}) from None


def _number(raw: str, name: str) -> int | float:
    try:
        value = float(raw)
    except ValueError:
        raise ValidationFailed(details={name: ["Must be a number."]}) from None
    return int(value) if value.is_integer() else value


def field_definition(post: Any) -> tuple[str, dict[str, Any]]:
    """Build `{name: definition}` from the add-field form, sending only the chosen type's options."""
    name = (post.get("field_name") or "").strip()
    type_name = post.get("field_type") or ""
    if type_name not in FIELD_TYPES:
        raise ValidationFailed(details={"field_type": ["Choose a field type."]})
    definition: dict[str, Any] = {"type": type_name}
    if post.get("required") == "on":
        definition["required"] = True
    description = (post.get("description") or "").strip()
    if description:
        definition["description"] = description
    wanted = TYPE_OPTIONS[type_name]
    for option in ("min", "max"):
        raw = (post.get(option) or "").strip()
        if option in wanted and raw:
            definition[option] = raw if type_name == "date" else _number(raw, option)
    raw = (post.get("max_length") or "").strip()
    if "max_length" in wanted and raw:
        definition["max_length"] = _number(raw, "max_length")
    raw = (post.get("choices") or "").strip()
    if "choices" in wanted and raw:
        items = [item.strip() for item in raw.split(",") if item.strip()]
        definition["choices"] = [_number(item, "choices") for item in items] if type_name == "number" else items
    raw = (post.get("to") or "").strip()
    if "to" in wanted and raw:
        definition["to"] = raw
        if type_name == "array":
            definition["items"] = "pointer"
    raw = (post.get("items") or "").strip()
    if "items" in wanted and raw and "items" not in definition:
        definition["items"] = raw
    raw = (post.get("default") or "").strip()
    if "default" in wanted and raw:
        definition["default"] = _json_value(raw, "default")
    return name, definition


def principals(raw: str) -> list[str]:
    return [item.strip() for item in raw.replace("\n", ",").split(",") if item.strip()]


def rules_body(post: Any) -> dict[str, Any]:
    """Permissions from a preset or the per-operation editor, plus default ACL and protected fields."""
    preset = post.get("preset") or "custom"
    body: dict[str, Any] = {}
    if preset in PRESETS:
        body["permissions"] = PRESETS[preset]["permissions"]
        body["default_acl"] = PRESETS[preset]["default_acl"]
    else:
        body["permissions"] = {op: principals(post.get(f"perm_{op}") or "") for op in OPERATIONS}
        body["default_acl"] = post.get("default_acl") or "owner"
    body["protected_fields"] = protected_fields(post.get("protected_fields") or "")
    return body


def protected_fields(raw: str) -> dict[str, list[str]]:
    """`principal: field, field` per line → {principal: [fields]}."""
    result: dict[str, list[str]] = {}
    for number, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        principal, sep, names = line.partition(":")
        if principal.strip() in ("role", "user", "pointer") and sep:
            # "role:admin: secret" — the principal itself has a colon.
            rest_principal, sep2, names = names.partition(":")
            principal = f"{principal.strip()}:{rest_principal.strip()}"
            sep = sep2
        if not sep:
            raise ValidationFailed(details={"protected_fields": [f"Line {number}: write `principal: field, field`."]})
        result.setdefault(principal.strip(), []).extend(principals(names))
    return result


def protected_text(protected: dict[str, list[str]]) -> str:
    return "\n".join(f"{principal}: {', '.join(names)}" for principal, names in protected.items())


def index_body(post: Any, current: list[dict[str, Any]]) -> list[dict[str, Any]]:
    names = principals(post.get("index_fields") or "")
    if not names:
        raise ValidationFailed(
            details={"index_fields": ["Name at least one field, e.g. score or author, -created_at."]}
        )
    declared = [{"fields": list(i["fields"]), "unique": bool(i.get("unique"))} for i in current]
    return [*declared, {"fields": names, "unique": post.get("unique") == "on"}]


def option_summary(definition: dict[str, Any]) -> str:
    parts = []
    for key in ("to", "items", "max_length", "min", "max", "choices", "default"):
        if key in definition:
            value = definition[key]
            parts.append(f"{key}: {json.dumps(value) if not isinstance(value, str) else value}")
    return " · ".join(parts)


def rules_state(collection: dict[str, Any]) -> dict[str, Any]:
    """What the access-rules form shows and sends back whole: its precondition covers exactly this."""
    return {key: collection[key] for key in ("permissions", "default_acl", "protected_fields")}


def rules_form_values(collection: dict[str, Any], posted: Any | None) -> dict[str, Any]:
    """What the access-rules inputs show: what was typed when a save was refused, else the stored rules."""
    if posted is not None:
        preset = posted.get("preset") or "custom"
        return {
            "preset": preset if preset in PRESETS else None,
            "operations": [(op, posted.get(f"perm_{op}") or "") for op in OPERATIONS],
            "default_acl": posted.get("default_acl") or "",
            "protected": posted.get("protected_fields") or "",
            "version": posted.get("version") or "",
        }
    return {
        "preset": preset_of(collection),
        "operations": [(op, ", ".join(collection["permissions"].get(op, []))) for op in OPERATIONS],
        "default_acl": collection["default_acl"],
        "protected": protected_text(collection["protected_fields"]),
        "version": fingerprint(rules_state(collection)),
    }


def index_named(post: Any) -> dict[str, Any] | None:
    """The index a remove button was shown for (`index_fields`, `index_unique`), if the form names one."""
    names = principals(post.get("index_fields") or "")
    if not names:
        return None
    return {"fields": names, "unique": post.get("index_unique") == "true"}
