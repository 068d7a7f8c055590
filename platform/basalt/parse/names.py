"""Parse names ↔ Basalt names, both ways, with no state.

Basalt names are `[a-z][a-z0-9_]*`; Parse names keep their case (`GameScore`, `playerName`).
A capital becomes `_` + its lowercase letter and a literal `_` is doubled, so `playerName` is
stored as `player_name` (what a native client would call it anyway) and reads back as
`playerName`. A class name's leading capital is simply lowered (`GameScore` → `game_score`).
Names that exist in the schema under another spelling are found through `resolve`."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from basalt.parse.errors import INVALID_CLASS_NAME, INVALID_KEY_NAME, ParseError

PARSE_NAME = re.compile(r"\A[A-Za-z][A-Za-z0-9_]{0,62}\Z")
NATIVE_NAME = re.compile(r"\A[a-z][a-z0-9_]{0,62}\Z")
_TOKEN = re.compile(r"__|_[a-z]|.", re.S)

SYSTEM_TO_NATIVE = {"objectId": "id", "createdAt": "created_at", "updatedAt": "updated_at", "ACL": "acl"}
SYSTEM_TO_PARSE = {native: parse for parse, native in SYSTEM_TO_NATIVE.items()}
BUILTIN_CLASSES = {"_User": "users", "_Role": "roles", "_Installation": "installations"}
BUILTIN_PARSE = {native: parse for parse, native in BUILTIN_CLASSES.items()}


def _escape(name: str) -> str:
    return "".join("_" + ch.lower() if ch.isupper() else ("__" if ch == "_" else ch) for ch in name)


@lru_cache(maxsize=4096)
def decode(native: str) -> str:
    """A Basalt field name as Parse spells it (memoised: every field of every object in every
    answer goes through here, and a project has few distinct field names)."""
    if native in SYSTEM_TO_PARSE:
        return SYSTEM_TO_PARSE[native]
    out = []
    for token in _TOKEN.findall(native):
        out.append("_" if token == "__" else token[1].upper() if len(token) == 2 else token)
    return "".join(out)


def encode(name: object) -> str:
    """A Parse field name as Basalt stores it, or Parse error 105."""
    if not isinstance(name, str):
        raise ParseError(INVALID_KEY_NAME, f"Invalid field name: {str(name)[:80]}.")
    return _to_native(name, False)


def resolve(name: object, existing: Iterable[str]) -> str:
    """The stored field a Parse name means: its encoding, or an existing field that decodes to it."""
    native = encode(name)
    if not isinstance(existing, dict | set | frozenset):
        existing = set(existing)
    if native in existing or native in SYSTEM_TO_PARSE:
        return native
    for candidate in existing:
        if decode(candidate) == name:
            return candidate
    return native


def encode_class(name: object) -> str:
    """A Parse class name as a Basalt collection name, or Parse error 103."""
    if not isinstance(name, str):
        raise ParseError(INVALID_CLASS_NAME, f"Invalid class name: {str(name)[:80]}")
    return _to_native(name, True)


@lru_cache(maxsize=4096)
def _to_native(name: str, is_class: bool) -> str:
    """Memoised like `decode` (a refused name raises, and what raises is not kept); a class name's
    leading capital is simply lowered."""
    known = BUILTIN_CLASSES if is_class else SYSTEM_TO_NATIVE
    if name in known:
        return known[name]
    code, what, end = (INVALID_CLASS_NAME, "class", "") if is_class else (INVALID_KEY_NAME, "field", ".")
    if not PARSE_NAME.match(name):
        raise ParseError(code, f"Invalid {what} name: {name[:80]}{end}")
    native = name[0].lower() + _escape(name[1:]) if is_class else _escape(name)
    if not NATIVE_NAME.match(native):
        raise ParseError(code, f"Invalid {what} name: {name}{end}")
    return native


def decode_class(native: str) -> str:
    """A collection name as a Parse class name (built-ins by their Parse names)."""
    if native in BUILTIN_PARSE:
        return BUILTIN_PARSE[native]
    parse = decode(native)
    return parse[0].upper() + parse[1:]


def encode_role(name: object) -> str:
    """Role names follow class names: `Administrators` is the Basalt role `administrators`."""
    try:
        return encode_class(name)
    except ParseError:
        raise ParseError(139, f"Invalid role name: {str(name)[:80]}") from None


def decode_role(native: str) -> str:
    return decode_class(native)
