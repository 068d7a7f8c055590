"""One collection's documents: create, get, update, delete, find with cursors, batch sub-requests."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, overload
from urllib.parse import quote

from basalt_sdk.models import BatchRequest, Document, Page

if TYPE_CHECKING:
    from basalt_sdk.client import Client

Where = Mapping[str, Any]


def _names(value: str | Sequence[str] | None) -> list[str] | None:
    if value is None:
        return None
    return [part for part in value.split(",") if part] if isinstance(value, str) else list(value)


def _etag_of(value: str | Document | None) -> str | None:
    return value.etag if isinstance(value, Document) else value


class Collection:
    def __init__(self, client: Client, name: str) -> None:
        self.client = client
        self.name = name
        self.path = f"/api/v1/collections/{quote(name, safe='')}"

    def __repr__(self) -> str:
        return f"Collection({self.name!r})"

    def _doc_path(self, doc_id: str) -> str:
        return f"{self.path}/documents/{quote(doc_id, safe='')}"

    # --- single documents ------------------------------------------------------------------------

    def create(
        self, data: Mapping[str, Any], *, acl: Mapping[str, Any] | None = None, idempotency_key: str | None = None
    ) -> Document:
        """Create a document; with `idempotency_key`, a retry of this call (same key, same data) within
        24 hours returns the first answer instead of creating a second document."""
        body = {**data, **({"acl": dict(acl)} if acl is not None else {})}
        response = self.client.request(
            "POST", f"{self.path}/documents", json=body, headers=_idempotency(idempotency_key)
        )
        return Document(response.json(), response.headers.get("ETag"))

    @overload
    def get(
        self,
        doc_id: str,
        *,
        fields: str | Sequence[str] | None = None,
        expand: str | Sequence[str] | None = None,
        if_none_match: None = None,
    ) -> Document: ...

    @overload
    def get(
        self,
        doc_id: str,
        *,
        fields: str | Sequence[str] | None = None,
        expand: str | Sequence[str] | None = None,
        if_none_match: str | Document,
    ) -> Document | None: ...

    def get(
        self,
        doc_id: str,
        *,
        fields: str | Sequence[str] | None = None,
        expand: str | Sequence[str] | None = None,
        if_none_match: str | Document | None = None,
    ) -> Document | None:
        """The document; None when `if_none_match` names its current version (304 Not Modified)."""
        params = {}
        if fields is not None:
            params["fields"] = ",".join(_names(fields) or [])
        if expand is not None:
            params["expand"] = ",".join(_names(expand) or [])
        headers = {}
        etag = _etag_of(if_none_match)
        if etag:
            headers["If-None-Match"] = etag
        response = self.client.request("GET", self._doc_path(doc_id), params=params, headers=headers)
        if response.status_code == 304:
            return None
        return Document(response.json(), response.headers.get("ETag"))

    def update(
        self,
        doc_id: str | Document,
        changes: Mapping[str, Any],
        *,
        if_match: str | Document | None = None,
        idempotency_key: str | None = None,
    ) -> Document:
        """Apply values and `ops` operations; with `if_match`, refuse (412) if it changed meanwhile;
        with `idempotency_key`, a retry applies them once (an `increment` is not counted twice)."""
        headers = _idempotency(idempotency_key)
        etag = _etag_of(if_match)
        if etag:
            headers["If-Match"] = etag
        target = doc_id.id if isinstance(doc_id, Document) else doc_id
        response = self.client.request("PATCH", self._doc_path(target), json=dict(changes), headers=headers)
        return Document(response.json(), response.headers.get("ETag"))

    def delete(
        self, doc_id: str | Document, *, if_match: str | Document | None = None, idempotency_key: str | None = None
    ) -> None:
        """Delete; with `idempotency_key`, a retried delete answers like the first (not 404)."""
        headers = _idempotency(idempotency_key)
        etag = _etag_of(if_match)
        if etag:
            headers["If-Match"] = etag
        target = doc_id.id if isinstance(doc_id, Document) else doc_id
        self.client.request("DELETE", self._doc_path(target), headers=headers)

    # --- queries ---------------------------------------------------------------------------------

    def find(
        self,
        where: Where | None = None,
        *,
        order: str | Sequence[str] | None = None,
        limit: int | None = None,
        cursor: str | None = None,
        fields: str | Sequence[str] | None = None,
        expand: str | Sequence[str] | None = None,
        count: bool = False,
    ) -> Page:
        """One page of documents matching `where`; `page.next_page()` or `iterate()` to go on."""
        query: dict[str, Any] = {}
        if where:
            query["where"] = dict(where)
        for key, value in (("order", order), ("fields", fields), ("expand", expand)):
            names = _names(value)
            if names:
                query[key] = names
        if limit is not None:
            query["limit"] = limit
        if cursor is not None:
            query["cursor"] = cursor
        if count:
            query["count"] = True
        return self._query(query)

    def iterate(
        self,
        where: Where | None = None,
        *,
        order: str | Sequence[str] | None = None,
        page_size: int = 100,
        fields: str | Sequence[str] | None = None,
        expand: str | Sequence[str] | None = None,
    ) -> Iterator[Document]:
        """Every matching document, page after page by cursor (stable under concurrent writes)."""
        page: Page | None = self.find(where, order=order, limit=page_size, fields=fields, expand=expand)
        while page is not None:
            yield from page.results
            page = page.next_page()

    def count(self, where: Where | None = None) -> int:
        page = self.find(where, limit=0, count=True)
        assert page.count is not None  # the server always answers count when asked
        return page.count

    def _query(self, query: dict[str, Any]) -> Page:
        body = self.client.request("POST", f"{self.path}/query", json=query).json()
        return Page(
            results=[Document(doc) for doc in body["results"]],
            next_cursor=body.get("next_cursor"),
            count=body.get("count"),
            _collection=self,
            _query={key: value for key, value in query.items() if key != "cursor"},
        )

    # --- batch sub-requests ------------------------------------------------------------------------

    def create_request(self, data: Mapping[str, Any]) -> BatchRequest:
        return BatchRequest("POST", f"{self.path}/documents", dict(data))

    def update_request(self, doc_id: str, changes: Mapping[str, Any]) -> BatchRequest:
        return BatchRequest("PATCH", self._doc_path(doc_id), dict(changes))

    def delete_request(self, doc_id: str) -> BatchRequest:
        return BatchRequest("DELETE", self._doc_path(doc_id))

    def get_request(self, doc_id: str) -> BatchRequest:
        return BatchRequest("GET", self._doc_path(doc_id))

    def query_request(self, where: Where | None = None, **query: Any) -> BatchRequest:
        return BatchRequest("POST", f"{self.path}/query", {**({"where": dict(where)} if where else {}), **query})


def _idempotency(key: str | None) -> dict[str, str]:
    """The `Idempotency-Key` header (API.md §12) when a key is given; a UUID per logical operation is a good key."""
    return {"Idempotency-Key": key} if key else {}
