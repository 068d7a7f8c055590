"""Push notifications (API.md §7): register this device, send (secret key), follow a push."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from basalt_sdk.client import Client

_FINISHED = ("done", "failed", "cancelled")


class Push:
    """`client.push`: installations with any key, pushes with the secret key (servers only)."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def register_installation(
        self,
        *,
        platform: str,
        provider: str,
        token: str,
        channels: Sequence[str] | None = None,
        locale: str | None = None,
        timezone: str | None = None,
        app_version: str | None = None,
        badge: int | None = None,
        custom: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Register (or refresh: upsert by token) this device; linked to the signed-in user, if any.

        `custom`: app-defined fields merged into the device's (`{"favorite_team": "Giants"}`; `None`
        as a value removes one); audiences and `installations()` filter on `custom.<name>`."""
        body: dict[str, Any] = {"platform": platform, "provider": provider, "token": token}
        for name, value in (
            ("channels", list(channels) if channels is not None else None),
            ("locale", locale),
            ("timezone", timezone),
            ("app_version", app_version),
            ("badge", badge),
            ("custom", dict(custom) if custom is not None else None),
        ):
            if value is not None:
                body[name] = value
        installation: dict[str, Any] = self._client.request("POST", "/api/v1/installations", json=body).json()
        return installation

    def update_installation(self, installation_id: str, **changes: Any) -> dict[str, Any]:
        """PATCH the device: built-in fields, and `custom={...}` merged (a value sets, `None` removes,
        `{"__op": "increment", "by": 1}` adds)."""
        result: dict[str, Any] = self._client.request(
            "PATCH", f"/api/v1/installations/{installation_id}", json=changes
        ).json()
        return result

    def subscribe(self, installation_id: str, *channels: str) -> list[str]:
        """Add channels to the device's (kept with any added at the same time elsewhere); the channels after."""
        return self._change_channels(installation_id, "add_unique", channels)

    def unsubscribe(self, installation_id: str, *channels: str) -> list[str]:
        """Remove channels from the device's; the channels after."""
        return self._change_channels(installation_id, "remove", channels)

    def _change_channels(self, installation_id: str, op: str, channels: Sequence[str]) -> list[str]:
        change = {"channels": {"__op": op, "items": list(channels)}}
        channels_after: list[str] = self.update_installation(installation_id, **change)["channels"]
        return channels_after

    def delete_installation(self, installation_id: str) -> None:
        self._client.request("DELETE", f"/api/v1/installations/{installation_id}")

    def installations(self, where: dict[str, Any] | None = None, limit: int = 100) -> list[dict[str, Any]]:
        import json

        params = {"limit": str(limit)}
        if where is not None:
            params["where"] = json.dumps(where)
        results: list[dict[str, Any]] = self._client.request("GET", "/api/v1/installations", params=params).json()[
            "results"
        ]
        return results

    def send(
        self,
        *,
        audience: dict[str, Any] | None = None,
        notification: dict[str, str] | None = None,
        data: dict[str, Any] | None = None,
        localized: dict[str, dict[str, str]] | None = None,
        **options: Any,
    ) -> dict[str, Any]:
        """Queue a push (secret key): `{id, status}`; with `dry_run=True`, `{targeted, providers}`.

        `options`: badge ("increment" or a number), collapse_key, priority, send_at, local_time,
        expires_at, dry_run (RFC 3339 strings for times)."""
        body: dict[str, Any] = {"audience": audience or {}, **options}
        for name, value in (("notification", notification), ("data", data), ("localized", localized)):
            if value is not None:
                body[name] = value
        answer: dict[str, Any] = self._client.request("POST", "/api/v1/push", json=body).json()
        return answer

    def status(self, push_id: str) -> dict[str, Any]:
        """`{id, status, counts: {targeted, sent, failed, invalid_tokens, pending, …, providers}}`."""
        answer: dict[str, Any] = self._client.request("GET", f"/api/v1/push/{push_id}").json()
        return answer

    def wait(self, push_id: str, timeout: float = 60.0, interval: float = 0.5) -> dict[str, Any]:
        """Poll `status` until the push is done, failed or cancelled (or `timeout` seconds pass)."""
        import time

        deadline = time.monotonic() + timeout
        while True:
            answer = self.status(push_id)
            if answer["status"] in _FINISHED or time.monotonic() >= deadline:
                return answer
            time.sleep(interval)

    def cancel(self, push_id: str) -> dict[str, Any]:
        answer: dict[str, Any] = self._client.request("DELETE", f"/api/v1/push/{push_id}").json()
        return answer

    def history(self, limit: int = 20, cursor: str | None = None) -> dict[str, Any]:
        params = {"limit": str(limit)}
        if cursor:
            params["cursor"] = cursor
        answer: dict[str, Any] = self._client.request("GET", "/api/v1/push", params=params).json()
        return answer

    def vapid_public_key(self) -> str:
        """The key a web app passes to `pushManager.subscribe` as `applicationServerKey`."""
        key: str = self._client.request("GET", "/api/v1/push/vapid-public-key").json()["public_key"]
        return key
