"""Project export, import and clone through the management API (API.md §12), for scripts and backups.

    from basalt_sdk import Management
    with Management.sign_in("https://basalt.example.com", "me@example.com", "…") as manage:
        done = manage.export_project("prj_ref")                  # waits for the background job
        manage.download_export("prj_ref", done["id"], "backup.basalt.tar.gz")
        manage.import_project("other_ref", "backup.basalt.tar.gz")  # into an empty project
        copy = manage.clone_project("prj_ref", "Staging")          # copy["project"]["ref"]

Management uses a console account's bearer token, not a project key: exports hold every user's
password hash, so only a project's admins and owners may make or download them. A transfer that
fails raises `TransferFailed` with the server's error (`code`, `message`, `details`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import httpx

from basalt_sdk.errors import BasaltError, error_from_response

USER_AGENT = "basalt-sdk-python/0.1"
CHUNK = 1024 * 1024


class TransferFailed(BasaltError):
    """An export, import or clone ended `failed`; `code`, `message` and `details` are the server's."""


class Management:
    def __init__(
        self, url: str, access_token: str, *, timeout: float = 60.0, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {access_token}", "User-Agent": USER_AGENT, "Accept": "application/json"},
            timeout=timeout,
            transport=transport,
        )

    @classmethod
    def sign_in(cls, url: str, email: str, password: str, **options: Any) -> Management:
        """A console account's session (`POST /api/v1/manage/auth/jwt/create/`)."""
        with httpx.Client(base_url=url.rstrip("/"), timeout=30.0, transport=options.get("transport")) as http:
            response = http.post("/api/v1/manage/auth/jwt/create/", json={"email": email, "password": password})
        if response.status_code >= 400:
            raise error_from_response(response)
        return cls(url, response.json()["access"], **options)

    def __enter__(self) -> Management:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = self._http.request(method, path, **kwargs)
        if response.status_code >= 400:
            raise error_from_response(response)
        return response

    @staticmethod
    def _base(ref: str) -> str:
        return f"/api/v1/manage/projects/{ref}"

    # --- transfers --------------------------------------------------------------------------

    def transfer(self, url: str) -> dict[str, Any]:
        """A transfer's state by its `url` (as every transfer answer names it)."""
        return self._send("GET", url).json()

    def wait(self, transfer: dict[str, Any], *, timeout: float = 3600.0, interval: float = 0.5) -> dict[str, Any]:
        """Poll until the transfer has succeeded (returned) or failed (`TransferFailed`)."""
        deadline = time.monotonic() + timeout
        while True:
            if transfer["status"] == "succeeded":
                return transfer
            if transfer["status"] == "failed":
                error = transfer.get("error") or {}
                raise TransferFailed(
                    error.get("code", "transfer_failed"),
                    error.get("message", "The transfer failed."),
                    400,
                    error.get("details") or {},
                )
            if time.monotonic() > deadline:
                raise TimeoutError(f"transfer {transfer['id']} still {transfer['status']} after {timeout:.0f} s")
            time.sleep(interval)
            interval = min(interval * 1.5, 5.0)
            transfer = self.transfer(transfer["url"])

    def export_project(self, ref: str, *, wait: bool = True, timeout: float = 3600.0) -> dict[str, Any]:
        """Start an export (a background job); with `wait`, return it finished (`download_url`, `size`)."""
        started = self._send("POST", f"{self._base(ref)}/exports").json()
        return self.wait(started, timeout=timeout) if wait else started

    def list_exports(self, ref: str) -> list[dict[str, Any]]:
        return self._send("GET", f"{self._base(ref)}/exports").json()["results"]

    def download_export(self, ref: str, export_id: str, path: str | os.PathLike[str] | None = None) -> bytes | Path:
        """The archive's bytes, or (with `path`) written to that file, streamed."""
        with self._http.stream("GET", f"{self._base(ref)}/exports/{export_id}/archive") as response:
            if response.status_code >= 400:
                response.read()
                raise error_from_response(response)
            if path is None:
                return response.read()
            target = Path(path)
            with target.open("wb") as out:
                for chunk in response.iter_bytes(CHUNK):
                    out.write(chunk)
            return target

    def import_project(
        self,
        ref: str,
        archive: bytes | str | os.PathLike[str] | BinaryIO,
        *,
        source: str = "basalt",
        wait: bool = True,
        timeout: float = 3600.0,
    ) -> dict[str, Any]:
        """Import an archive (bytes, a path or a binary file) into the empty project `ref`.

        `source="parse"` takes a Parse Server export (a .zip or .tar.gz of `<Class>.json` files)."""
        close = None
        if isinstance(archive, bytes):
            content: Any = archive
        elif isinstance(archive, str | os.PathLike):
            close = content = Path(archive).open("rb")
        else:
            content = _chunks(archive)
        try:
            response = self._send(
                "POST",
                f"{self._base(ref)}/imports",
                params={"from": source},
                content=content,
                headers={"Content-Type": "application/gzip" if source == "basalt" else "application/octet-stream"},
            )
        finally:
            if close is not None:
                close.close()
        started = response.json()
        return self.wait(started, timeout=timeout) if wait else started

    def clone_project(self, ref: str, name: str, *, wait: bool = True, timeout: float = 3600.0) -> dict[str, Any]:
        """Copy the project into a new one you own; the answer's `project` has the copy's `ref`."""
        started = self._send("POST", f"{self._base(ref)}/clone", json={"name": name}).json()
        return self.wait(started, timeout=timeout) if wait else started


def _chunks(stream: BinaryIO) -> Iterator[bytes]:
    while True:
        chunk = stream.read(CHUNK)
        if not chunk:
            return
        yield chunk
