"""Files (API.md §5): streamed uploads (resumable over tus for large ones), downloads, signed URLs."""

from __future__ import annotations

import base64
import hashlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import quote

import httpx

from basalt_sdk.errors import error_from_response

if TYPE_CHECKING:
    from basalt_sdk.client import Client

CHUNK = 1024 * 1024
RESUMABLE_ABOVE = 32 * 1024 * 1024  # bytes; larger uploads go over tus and survive a dropped connection
# Bytes per tus PATCH. Each PATCH costs the server a request, a row lock and an offset commit
# (~10 ms here): in 8 MiB PATCHes a 1 GiB upload spent a third of its time on them (bench/README.md).
# A PATCH is streamed from the file, never held whole, so its size costs no memory; a dropped
# connection loses at most one PATCH (the server keeps only bytes that match the checksum).
TUS_CHUNK = 64 * 1024 * 1024
Source = str | os.PathLike[str] | IO[bytes]


class Files:
    """`client.files`: upload(path or binary file object), download, signed_url, thumbnail_url, get, list, delete."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = dict(extra or {})
        if self._client.access_token:
            headers["Authorization"] = f"Bearer {self._client.access_token}"
        return headers

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        kwargs["headers"] = self._headers(kwargs.get("headers"))
        response = self._client._http.request(method, path, **kwargs)
        if response.status_code >= 400:
            raise error_from_response(response)
        return response

    # --- uploads -------------------------------------------------------------------------------

    def upload(
        self,
        source: Source,
        *,
        name: str | None = None,
        content_type: str = "application/octet-stream",
        resumable: bool | None = None,
        chunk_size: int = TUS_CHUNK,
        retries: int = 5,
    ) -> dict[str, Any]:
        """Upload a path or a binary file object, streamed; returns the file's metadata.

        Files above 32 MiB (or with `resumable=True`) go over tus in `chunk_size` pieces, each with
        a sha256 checksum; a dropped connection resumes from the server's offset (`retries` times).
        """
        handle, owned = _open(source)
        try:
            size = _size(handle)
            name = name or _name(source)
            if resumable is None:
                resumable = size is None or size > RESUMABLE_ABOVE
            if resumable and size is not None:
                return self._tus(handle, size, name, content_type, chunk_size, retries)
            response = self._send(
                "POST",
                f"/api/v1/files?name={quote(name)}",
                content=_chunks(handle),
                headers={"Content-Type": content_type, **({"Content-Length": str(size)} if size is not None else {})},
            )
            return response.json()
        finally:
            if owned:
                handle.close()

    def _tus(
        self, handle: IO[bytes], size: int, name: str, content_type: str, chunk: int, retries: int
    ) -> dict[str, Any]:
        tus = {"Tus-Resumable": "1.0.0"}
        metadata = ",".join(
            f"{key} {base64.b64encode(value.encode()).decode()}"
            for key, value in (("filename", name), ("filetype", content_type))
        )
        created = self._send(
            "POST", "/api/v1/files/tus", headers={**tus, "Upload-Length": str(size), "Upload-Metadata": metadata}
        )
        location = created.headers["Location"]
        offset = int(created.headers.get("Upload-Offset", "0"))
        failures = 0
        while offset < size:
            length = min(chunk, size - offset)
            digest = base64.b64encode(_sha256_of(handle, offset, length)).decode()
            try:
                answer = self._send(
                    "PATCH",
                    location,
                    content=_region(handle, offset, length),
                    headers={
                        **tus,
                        "Content-Length": str(length),
                        "Content-Type": "application/offset+octet-stream",
                        "Upload-Offset": str(offset),
                        "Upload-Checksum": f"sha256 {digest}",
                    },
                )
                offset = int(answer.headers["Upload-Offset"])
                failures = 0
            except (httpx.TransportError, httpx.TimeoutException):
                failures += 1
                if failures > retries:
                    raise
                time.sleep(min(2**failures * 0.2, 5))
                offset = int(self._send("HEAD", location, headers=tus).headers["Upload-Offset"])
        return self.get(location.rsplit("/", 1)[1])

    # --- reading -------------------------------------------------------------------------------

    def get(self, file_id: str) -> dict[str, Any]:
        return self._send("GET", f"/api/v1/files/{quote(file_id)}").json()

    def list(self, *, limit: int = 100, cursor: str | None = None, content_type: str | None = None) -> dict[str, Any]:
        params: dict[str, str] = {"limit": str(limit)}
        if cursor:
            params["cursor"] = cursor
        if content_type:
            params["content_type"] = content_type
        return self._send("GET", "/api/v1/files", params=params).json()

    def download(self, file_id: str, destination: str | os.PathLike[str] | IO[bytes]) -> int:
        """Stream the bytes into a path or a binary file object; returns the number of bytes."""
        handle, owned = (
            (open(destination, "wb"), True) if isinstance(destination, str | os.PathLike) else (destination, False)
        )
        written = 0
        try:
            request = self._client._http.build_request(
                "GET", f"/api/v1/files/{quote(file_id)}/content", headers=self._headers()
            )
            response = self._client._http.send(request, stream=True)
            try:
                if response.status_code >= 400:
                    response.read()
                    raise error_from_response(response)
                for block in response.iter_bytes(CHUNK):
                    handle.write(block)
                    written += len(block)
            finally:
                response.close()
        finally:
            if owned:
                handle.close()
        return written

    def signed_url(
        self, file_id: str, *, expires_in: int = 3600, thumb: str | None = None, fit: str | None = None
    ) -> str:
        """An absolute URL that needs no headers (for <img> tags), valid `expires_in` seconds."""
        body: dict[str, Any] = {"expires_in": expires_in}
        if thumb:
            body["thumb"] = thumb
        if fit:
            body["fit"] = fit
        path = self._send("POST", f"/api/v1/files/{quote(file_id)}/url", json=body).json()["url"]
        return self._client.url + path

    def thumbnail_url(self, file_id: str, size: str, *, fit: str = "cover", expires_in: int = 3600) -> str:
        """A signed URL of a thumbnail (`size` one of the project's sizes, e.g. "256x256")."""
        return self.signed_url(file_id, expires_in=expires_in, thumb=size, fit=fit)

    def update(self, file_id: str, *, name: str | None = None, acl: dict[str, Any] | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if name is not None:
            body["name"] = name
        if acl is not None:
            body["acl"] = acl
        return self._send("PATCH", f"/api/v1/files/{quote(file_id)}", json=body).json()

    def delete(self, file_id: str) -> None:
        self._send("DELETE", f"/api/v1/files/{quote(file_id)}")


def _open(source: Source) -> tuple[IO[bytes], bool]:
    if isinstance(source, str | os.PathLike):
        return open(source, "rb"), True
    return source, False


def _size(handle: IO[bytes]) -> int | None:
    try:
        position = handle.tell()
        end = handle.seek(0, os.SEEK_END)
        handle.seek(position)
        return end - position
    except (OSError, AttributeError):
        return None


def _name(source: Source) -> str:
    if isinstance(source, str | os.PathLike):
        return Path(source).name
    return Path(str(getattr(source, "name", "file"))).name or "file"


def _region(handle: IO[bytes], offset: int, length: int) -> Iterator[bytes]:
    """`length` bytes of `handle` from `offset`, read CHUNK at a time as httpx sends them. (Given
    one large bytes body, httpx's transport (httpcore 1.0.9) copies what is left of it after every
    partial send, quadratic in its size: an 8 MiB PATCH went out at ~150 MiB/s on loopback.)"""
    handle.seek(offset)
    left = length
    while left:
        block = handle.read(min(CHUNK, left))
        if not block:
            raise OSError("the file is shorter than when its upload began")
        left -= len(block)
        yield block


def _sha256_of(handle: IO[bytes], offset: int, length: int) -> bytes:
    """The Upload-Checksum of a PATCH, read once before it is sent (the header comes first)."""
    digest = hashlib.sha256()
    for block in _region(handle, offset, length):
        digest.update(block)
    return digest.digest()


def _chunks(handle: IO[bytes]) -> Iterator[bytes]:
    while block := handle.read(CHUNK):
        yield block
