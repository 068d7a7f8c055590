"""Validate collection definitions (API.md §2): names, fields, options, indexes, rules."""

from __future__ import annotations

import re
from typing import Any

from basalt.core.errors import ValidationFailed
from basalt.documents.fields import FieldError, get_field_type, registry

NAME = re.compile(r"\A[a-z][a-z0-9_]{0,62}\Z")
# NAME in words: people read this message (the console shows it beside the input).
NAME_RULE = "Use 1 to 63 lowercase letters, digits or _, starting with a letter (e.g. blog_posts)."
SYSTEM_FIELDS = frozenset({"id", "created_at", "updated_at", "acl"})
# System fields an index (and an `order`) may name besides declared ones.
INDEXABLE_SYSTEM_FIELDS = frozenset({"id", "created_at", "updated_at"})
# Built-in collections are created by the identity and push areas, never by a developer.
BUILTIN_NAMES = frozenset({"users", "roles", "installations"})
OPERATIONS = ("get", "find", "count", "create", "update", "delete")
DEFAULT_ACLS = ("owner", "owner_write_public_read", "public")
PRINCIPAL_NAME = re.compile(r"\A[A-Za-z0-9_-]{1,64}\Z")
COMMON_OPTIONS = frozenset({"type", "required", "default", "description"})
MAX_FIELDS = 200
MAX_INDEXES = 20
MAX_INDEX_FIELDS = 5
MAX_PRINCIPALS = 100
TOP_LEVEL_KEYS = frozenset({"name", "fields", "indexes", "permissions", "protected_fields", "default_acl"})


def check_name(value: Any, what: str = "name") -> str:
    if not isinstance(value, str) or not NAME.match(value):
        raise ValidationFailed(details={what: [NAME_RULE]})
    return value


def validate_field(name: str, definition: Any) -> dict[str, Any]:
    """Return the normalised definition of one field or raise FieldError."""
    if not isinstance(definition, dict):
        raise FieldError('A field is an object like {"type": "string"}.')
    type_name = definition.get("type")
    if not isinstance(type_name, str) or type_name not in registry:
        raise FieldError(f"`type` must be one of {', '.join(sorted(registry))}.")
    field_type = get_field_type(type_name)
    unknown = set(definition) - COMMON_OPTIONS - field_type.options
    if unknown:
        raise FieldError(f"Unknown option {sorted(unknown)[0]!r} for a {type_name} field.")
    options = {key: value for key, value in definition.items() if key not in COMMON_OPTIONS}
    if "to" in field_type.options and type_name != "array" and "to" not in options:
        raise FieldError(f"A {type_name} field needs `to` (the target collection).")
    options = field_type.validate_options(options)
    result: dict[str, Any] = {"type": type_name, **options}
    if "description" in definition:
        description = definition["description"]
        if not isinstance(description, str) or len(description) > 500:
            raise FieldError("`description` must be a string of at most 500 characters.")
        result["description"] = description
    if "required" in definition:
        if not isinstance(definition["required"], bool):
            raise FieldError("`required` must be true or false.")
        if definition["required"] and not field_type.stored_in_data:
            raise FieldError(f"A {type_name} field cannot be required.")
        result["required"] = definition["required"]
    if "default" in definition:
        if not field_type.stored_in_data:
            raise FieldError(f"A {type_name} field cannot have a default.")
        try:
            result["default"] = field_type.to_storage(definition["default"], options)
        except FieldError as exc:
            raise FieldError(f"`default`: {exc}") from None
    return result


def validate_fields(raw: Any) -> dict[str, dict[str, Any]]:
    if not isinstance(raw, dict):
        raise ValidationFailed(details={"fields": ["Must be an object of field name → definition."]})
    if len(raw) > MAX_FIELDS:
        raise ValidationFailed(details={"fields": [f"At most {MAX_FIELDS} fields."]})
    errors: dict[str, list[str]] = {}
    fields: dict[str, dict[str, Any]] = {}
    for name, definition in raw.items():
        if not isinstance(name, str) or not NAME.match(name):
            errors[f"fields.{str(name)[:80]}"] = [NAME_RULE]
            continue
        if name in SYSTEM_FIELDS:
            errors[f"fields.{name}"] = [f"{name!r} is a system field."]
            continue
        try:
            fields[name] = validate_field(name, definition)
        except FieldError as exc:
            errors[f"fields.{name}"] = [str(exc)]
    if errors:
        raise ValidationFailed(details=errors)
    return fields


def check_targets(fields: dict[str, dict[str, Any]], known: set[str]) -> None:
    """Pointer and relation targets must name an existing collection (or this one, or a built-in)."""
    errors = {
        f"fields.{name}.to": [f"No collection named {definition['to']!r}."]
        for name, definition in fields.items()
        if "to" in definition and definition["to"] not in known | BUILTIN_NAMES
    }
    if errors:
        raise ValidationFailed(details=errors)


def validate_indexes(raw: Any, fields: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    if not isinstance(raw, list) or len(raw) > MAX_INDEXES:
        raise ValidationFailed(details={"indexes": [f"Must be a list of at most {MAX_INDEXES} indexes."]})
    result: list[dict[str, Any]] = []
    seen: set[tuple] = set()
    for position, index in enumerate(raw):
        where = f"indexes.{position}"
        if not isinstance(index, dict) or set(index) - {"fields", "unique"}:
            raise ValidationFailed(details={where: ['An index is {"fields": [...], "unique": bool}.']})
        names = index.get("fields")
        unique = index.get("unique", False)
        if not isinstance(unique, bool):
            raise ValidationFailed(details={f"{where}.unique": ["Must be true or false."]})
        if not isinstance(names, list) or not 1 <= len(names) <= MAX_INDEX_FIELDS:
            raise ValidationFailed(details={f"{where}.fields": [f"1 to {MAX_INDEX_FIELDS} field names."]})
        plain: list[str] = []
        for entry in names:
            if not isinstance(entry, str):
                raise ValidationFailed(details={f"{where}.fields": ["Field names are strings."]})
            bare = entry[1:] if entry.startswith("-") else entry
            if bare in INDEXABLE_SYSTEM_FIELDS:
                pass
            elif bare not in fields:
                raise ValidationFailed(details={f"{where}.fields": [f"Unknown field {entry[:80]!r}."]})
            elif not get_field_type(fields[bare]["type"]).indexable:
                raise ValidationFailed(
                    details={f"{where}.fields": [f"A {fields[bare]['type']} field cannot be indexed."]}
                )
            plain.append(bare)
        if len(set(plain)) != len(plain):
            raise ValidationFailed(details={f"{where}.fields": ["A field appears twice."]})
        key = (tuple(names), unique)
        if key in seen:
            raise ValidationFailed(details={where: ["This index is declared twice."]})
        seen.add(key)
        result.append({"fields": list(names), "unique": unique})
    return result


def check_principal(value: Any, fields: dict[str, dict[str, Any]], *, allow_pointer: bool) -> str:
    if not isinstance(value, str):
        raise FieldError("Principals are strings.")
    if value in ("*", "authenticated"):
        return value
    kind, _, rest = value.partition(":")
    if kind in ("role", "user") and PRINCIPAL_NAME.match(rest):
        return value
    if kind == "pointer" and allow_pointer:
        definition = fields.get(rest)
        if definition is None or definition["type"] != "pointer":
            raise FieldError(f"{value[:80]!r} must name a pointer field of this collection.")
        return value
    raise FieldError(
        f"Unknown principal {value[:80]!r}: use *, authenticated, role:<name>, user:<id> or pointer:<field>."
    )


def validate_permissions(raw: Any, fields: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
    if not isinstance(raw, dict):
        raise ValidationFailed(details={"permissions": ["Must be an object of operation → principals."]})
    result: dict[str, list[str]] = {}
    for op, principals in raw.items():
        if op not in OPERATIONS:
            raise ValidationFailed(details={"permissions": [f"Unknown operation; use {', '.join(OPERATIONS)}."]})
        if not isinstance(principals, list) or len(principals) > MAX_PRINCIPALS:
            raise ValidationFailed(details={f"permissions.{op}": [f"A list of at most {MAX_PRINCIPALS} principals."]})
        try:
            result[op] = list(dict.fromkeys(check_principal(p, fields, allow_pointer=True) for p in principals))
        except FieldError as exc:
            raise ValidationFailed(details={f"permissions.{op}": [str(exc)]}) from None
    return result


def validate_protected_fields(raw: Any, fields: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
    if not isinstance(raw, dict) or len(raw) > MAX_PRINCIPALS:
        raise ValidationFailed(details={"protected_fields": ["Must be an object of principal → field names."]})
    result: dict[str, list[str]] = {}
    for principal, names in raw.items():
        try:
            check_principal(principal, fields, allow_pointer=False)
        except FieldError as exc:
            raise ValidationFailed(details={"protected_fields": [str(exc)]}) from None
        if not isinstance(names, list) or any(not isinstance(n, str) or n not in fields for n in names):
            raise ValidationFailed(details={f"protected_fields.{principal}": ["A list of declared field names."]})
        result[principal] = list(dict.fromkeys(names))
    return result


def validate_default_acl(raw: Any) -> str:
    if raw not in DEFAULT_ACLS:
        raise ValidationFailed(details={"default_acl": [f"Must be one of {', '.join(DEFAULT_ACLS)}."]})
    return raw


def check_unique_unprotected(
    fields: dict[str, dict[str, Any]], indexes: list[dict[str, Any]], protected: dict[str, list[str]]
) -> None:
    """A unique index may not cover a protected field: a 409 on a guessed value would reveal it.

    Anyone allowed to write could otherwise probe hidden values one guess at a time (set `ssn`
    to a guess: 409 means someone has it). Built-in fields are identity's and exempt."""
    hidden_somewhere = {name for names in protected.values() for name in names}
    for position, index in enumerate(indexes):
        if not index.get("unique"):
            continue
        clash = [
            bare
            for bare in (entry.lstrip("-") for entry in index["fields"])
            if bare in hidden_somewhere and not fields.get(bare, {}).get("builtin")
        ]
        if clash:
            message = f"{clash[0]!r} is a protected field: a unique index on it would let writers test hidden values."
            raise ValidationFailed(details={f"indexes.{position}": [message]})


def references(fields: dict[str, dict[str, Any]], indexes: list, permissions: dict, protected: dict) -> None:
    """Refuse a schema whose indexes or rules name fields it no longer declares."""
    validate_indexes(indexes, fields)
    validate_permissions(permissions, fields)
    validate_protected_fields(protected, fields)
