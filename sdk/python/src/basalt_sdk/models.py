"""What the API returns: documents (dicts that also carry their ETag), pages, batch results."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from basalt_sdk.errors import BasaltError, error_from_body

if TYPE_CHECKING:
    from basalt_sdk.collection import Collection


class Document(dict[str, Any]):
    """A document as the API returned it; a plain dict of its fields plus `etag` from the response."""

    etag: str | None

    def __init__(self, data: dict[str, Any], etag: str | None = None) -> None:
        super().__init__(data)
        self.etag = etag

    @property
    def id(self) -> str:
        return str(self["id"])

    @property
    def created_at(self) -> datetime:
        return parse_time(self["created_at"])

    @property
    def updated_at(self) -> datetime:
        return parse_time(self["updated_at"])

    @property
    def acl(self) -> dict[str, dict[str, bool]]:
        return self.get("acl") or {}


def parse_time(value: str) -> datetime:
    """RFC 3339 UTC with milliseconds ("2026-11-21T10:00:00.000Z") → an aware datetime."""
    return datetime.fromisoformat(value)


@dataclass
class Page:
    """One page of a query; iterate it for its documents, `next_page()` to follow the cursor."""

    results: list[Document]
    next_cursor: str | None
    count: int | None = None
    _collection: Collection | None = field(default=None, repr=False)
    _query: dict[str, Any] = field(default_factory=dict, repr=False)

    def __iter__(self) -> Iterator[Document]:
        return iter(self.results)

    def __len__(self) -> int:
        return len(self.results)

    @property
    def has_more(self) -> bool:
        return self.next_cursor is not None

    def next_page(self) -> Page | None:
        """The following page of the same query, or None after the last one."""
        if self.next_cursor is None or self._collection is None:
            return None
        query = {**self._query, "cursor": self.next_cursor, "count": False}
        return self._collection._query(query)


@dataclass(frozen=True)
class BatchRequest:
    """One sub-request of `Client.batch`; build them with `Collection.create_request` and friends."""

    method: str
    path: str
    body: Any = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"method": self.method, "path": self.path}
        if self.body is not None:
            out["body"] = self.body
        return out


@dataclass(frozen=True)
class BatchResult:
    """The status and body of one sub-request; `error` is the typed error when it failed."""

    status: int
    body: Any

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def error(self) -> BasaltError | None:
        return None if self.ok else error_from_body(self.status, self.body)

    @property
    def document(self) -> Document | None:
        return Document(self.body) if self.ok and isinstance(self.body, dict) and "id" in self.body else None
