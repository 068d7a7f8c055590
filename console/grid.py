"""Data grid: values rendered by type, numbered pages over keyset cursors, the cell editors' inputs."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.urls import reverse

PAGE_SIZES = (10, 25, 50, 100)
DEFAULT_PAGE_SIZE = 25
# Pages whose cursors one session remembers per collection; deeper pages walk from the last known one.
MAX_REMEMBERED_PAGES = 200
CHIPS = 3
SHORT = 8


def page_size(raw: str | None) -> int:
    return int(raw) if raw and raw.isascii() and raw.isdigit() and int(raw) in PAGE_SIZES else DEFAULT_PAGE_SIZE


def page_number(raw: str | None) -> int:
    return max(1, min(int(raw), 100_000)) if raw and raw.isascii() and raw.isdigit() else 1


def short_text(value: Any, limit: int) -> str:
    """A value as at most `limit` characters of text: a string as it is, anything else as JSON.
    Markup in it is left to the template's escaping."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _chip(value: Any) -> str:
    return short_text(value, 24)


def cell(value: Any, definition: dict[str, Any] | None, ref: str) -> dict[str, Any]:
    """How one value shows in the grid: its kind picks the markup in data/cell.html."""
    kind = (definition or {}).get("type", "system")
    full = "" if value is None else value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    out: dict[str, Any] = {"kind": kind, "full": full, "empty": value is None}
    if value is None:
        return out
    if kind == "boolean":
        out["yes"] = bool(value)
    elif kind in ("date", "system") and isinstance(value, str) and len(value) >= 19 and value[10:11] == "T":
        out["kind"] = "date"
    elif kind == "pointer" and isinstance(value, str):
        target = (definition or {}).get("to", "")
        out["short"] = value[:SHORT] + ("…" if len(value) > SHORT else "")
        out["label"] = f"{target}/{out['short']}"
        if target and not target.startswith("_"):
            out["href"] = reverse("console:document", args=[ref, target, value]) if _doc_id(value) else ""
    elif kind == "file" and isinstance(value, str):
        out["href"] = reverse("console:files", args=[ref]) + f"#file-{value}"
        out["preview"] = reverse("console:files_preview", args=[ref, value]) if value.isalnum() else ""
    elif isinstance(value, list):
        out["kind"] = "chips"
        out["chips"] = [_chip(v) for v in value[:CHIPS]]
        out["more"] = max(0, len(value) - CHIPS)
        out["pretty"] = json.dumps(value, indent=2, ensure_ascii=False)
    elif isinstance(value, dict):
        out["kind"] = "chips"
        keys = list(value)
        out["chips"] = [f"{k}: {_chip(value[k])}" for k in keys[:CHIPS]]
        out["more"] = max(0, len(keys) - CHIPS)
        out["pretty"] = json.dumps(value, indent=2, ensure_ascii=False)
    return out


def _doc_id(value: str) -> bool:
    return 0 < len(value) <= 32 and value.replace("_", "").replace("-", "").isalnum()


def editor(definition: dict[str, Any], value: Any) -> dict[str, Any]:
    """The inline editor's input for one field type, filled from the stored value."""
    kind = definition["type"]
    shown: Any = "" if value is None else value
    if kind in ("object", "array"):
        shown = "" if value is None else json.dumps(value, indent=2, ensure_ascii=False)
    elif kind == "date" and isinstance(value, str):
        shown = value[:19]
    out = {"kind": kind, "value": shown, "choices": definition.get("choices")}
    if kind == "geopoint" and isinstance(value, dict):
        out["lat"], out["lng"] = value.get("lat", ""), value.get("lng", "")
    if kind == "pointer":
        out["to"] = definition.get("to", "")
    return out


class Pager:
    """Page N of a keyset-paged query: the session remembers each page's cursor, so previous,
    next and a reloaded "page 3" all cost one query (a page never seen walks forward once)."""

    def __init__(self, session: Any, slot: str, signature: Any):
        self.session = session
        self.slot = slot
        self.signature = hashlib.sha256(json.dumps(signature, sort_keys=True).encode()).hexdigest()[:16]
        store = session.get("grid_pages", {})
        mine = store.get(slot) or {}
        self.cursors: list[str | None] = mine.get("cursors", [None]) if mine.get("sig") == self.signature else [None]

    def cursor_for(self, number: int, fetch_next) -> tuple[int, str | None]:
        """(page actually reachable, its cursor); `fetch_next(cursor)` returns the following cursor."""
        while len(self.cursors) < number:
            following = fetch_next(self.cursors[-1])
            if not following:
                break
            self.cursors.append(following)
        number = min(number, len(self.cursors))
        return number, self.cursors[number - 1]

    def remember(self, number: int, next_cursor: str | None) -> None:
        if next_cursor and number < MAX_REMEMBERED_PAGES:
            del self.cursors[number:]
            self.cursors.append(next_cursor)
        mine = self.session.get("grid_pages", {}).get(self.slot) or {}
        if mine.get("sig") == self.signature and mine.get("cursors") == self.cursors[:MAX_REMEMBERED_PAGES]:
            return  # nothing new: no session write (a live refresh or a reload costs no UPDATE)
        store = dict(self.session.get("grid_pages", {}))
        store.pop(self.slot, None)
        store[self.slot] = {"sig": self.signature, "cursors": self.cursors[:MAX_REMEMBERED_PAGES]}
        # One slot per collection, the most recent few collections only: the session stays small.
        self.session["grid_pages"] = dict(list(store.items())[-8:])
