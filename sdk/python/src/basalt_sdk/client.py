"""The entry point: one project's data API reached with its key (and an end-user's access token)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import httpx

from basalt_sdk.auth import AuthMixin
from basalt_sdk.collection import Collection
from basalt_sdk.errors import error_from_response
from basalt_sdk.models import BatchRequest, BatchResult

if TYPE_CHECKING:
    from basalt_sdk.files import Files
    from basalt_sdk.push import Push
    from basalt_sdk.realtime import Realtime

USER_AGENT = "basalt-sdk-python/0.1"


class Client(AuthMixin):
    """`Client(url, api_key)`: a publishable key in apps, a secret key on servers only (it bypasses rules).

    `access_token` signs requests in as an app end-user (`Authorization: Bearer`); set it again after
    a refresh. Every error answer raises a `BasaltError` subclass; use the client as a context manager
    or call `close()` to release connections.
    """

    def __init__(
        self,
        url: str,
        api_key: str,
        access_token: str | None = None,
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not api_key:
            raise ValueError("api_key is required: a publishable (pk_…) or secret (sk_…) key of the project")
        self.url = url.rstrip("/")
        self.access_token = access_token
        self._http = httpx.Client(
            base_url=self.url,
            headers={"X-API-Key": api_key, "User-Agent": USER_AGENT, "Accept": "application/json"},
            timeout=timeout,
            transport=transport,
        )

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def collection(self, name: str) -> Collection:
        return Collection(self, name)

    @property
    def realtime(self) -> Realtime:
        """Live queries and channels (async); one WebSocket per client, opened on first use."""
        if getattr(self, "_realtime", None) is None:
            from basalt_sdk.realtime import Realtime

            self._realtime = Realtime(self)
        return self._realtime

    @property
    def files(self) -> Files:
        """Uploads (streamed; resumable over tus when large), downloads, signed and thumbnail URLs."""
        if getattr(self, "_files", None) is None:
            from basalt_sdk.files import Files

            self._files = Files(self)
        return self._files

    @property
    def push(self) -> Push:
        """Installations (any key) and push notifications (secret key)."""
        from basalt_sdk.push import Push

        return Push(self)

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Send one request; a 4xx/5xx answer raises the typed error of its `code`."""
        all_headers = dict(headers or {})
        if self.access_token:
            all_headers["Authorization"] = f"Bearer {self.access_token}"
        response = self._http.request(
            method, path, json=json, params=dict(params) if params else None, headers=all_headers
        )
        if response.status_code >= 400:
            raise error_from_response(response)
        return response

    def sign_up(self, email: str, password: str, **fields: Any) -> dict[str, Any]:
        """Create an app end-user (`POST /api/v1/auth/signup`) and act as them from now on.

        Returns `{user, access_token, refresh_token, expires_in}`; `access_token` is also set on
        this client. `fields` are the project's custom user fields.
        """
        return self._signed_in(
            self.request("POST", "/api/v1/auth/signup", json={"email": email, "password": password, **fields})
        )

    def sign_in_anonymously(self) -> dict[str, Any]:
        """Start an anonymous end-user (`POST /api/v1/auth/anonymous`) and act as them from now on."""
        return self._signed_in(self.request("POST", "/api/v1/auth/anonymous"))

    def _signed_in(self, response: httpx.Response) -> dict[str, Any]:
        session: dict[str, Any] = response.json()
        self.access_token = session["access_token"]
        return session

    def batch(
        self,
        requests: Sequence[BatchRequest | Mapping[str, Any]],
        *,
        transaction: bool = False,
        idempotency_key: str | None = None,
    ) -> list[BatchResult]:
        """Run up to 100 sub-requests in one round trip.

        Without `transaction` each sub-request succeeds or fails alone (see each result's `error`);
        with it, all or nothing: the first failure raises its error (with `details["index"]`) and
        nothing is written.
        """
        payload = {
            "transaction": transaction,
            "requests": [r.to_json() if isinstance(r, BatchRequest) else dict(r) for r in requests],
        }
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        body = self.request("POST", "/api/v1/batch", json=payload, headers=headers).json()
        return [BatchResult(status=item["status"], body=item.get("body")) for item in body["results"]]

    def openapi(self) -> dict[str, Any]:
        """The project's OpenAPI 3.1 document as this caller sees it (for code generators)."""
        document: dict[str, Any] = self.request("GET", "/api/v1/openapi.json").json()
        return document
