"""FCM through firebase-admin's HTTP v1 send path: one send_each call per batch of at most 500.

The URL seam (`PUSH_FCM_API_BASE`, tests only) rewrites the per-app messaging service's
`_fcm_url`; firebase-admin offers no option for it (EXTERNALS.md). A test fails if the
library stops honouring it (tests/push/test_fcm.py).
"""

from __future__ import annotations

import hashlib
import re
import threading
from datetime import timedelta
from typing import Any

import orjson
from django.conf import settings
from django.utils import timezone

from basalt.push.message import ttl_seconds
from basalt.push.providers.base import (
    FAILED,
    INVALID,
    RETRY,
    SENT,
    Envelope,
    Outcome,
    Outgoing,
    Provider,
    ProviderAuthError,
    data_strings,
    retry_after_seconds,
)

_apps: dict[str, Any] = {}
_apps_lock = threading.Lock()
# Counted per library call (each carries ≤ 500 messages); the bench and T15 read it.
calls = 0


def messaging_app(service_account: dict[str, Any]) -> Any:
    """One firebase_admin App per distinct service account, with the URL seam applied."""
    import firebase_admin
    from firebase_admin import credentials, messaging

    digest = hashlib.sha256(orjson.dumps(service_account, option=orjson.OPT_SORT_KEYS)).hexdigest()[:24]
    base = settings.PUSH_FCM_API_BASE
    name = f"basalt-{digest}-{hashlib.sha256(base.encode()).hexdigest()[:8]}"
    with _apps_lock:
        app = _apps.get(name)
        if app is not None:
            return app
        app = firebase_admin.initialize_app(
            credentials.Certificate(dict(service_account)),
            options={"projectId": service_account["project_id"], "httpTimeout": settings.PUSH_HTTP_TIMEOUT},
            name=name,
        )
        service = messaging._get_messaging_service(app)
        root = FCM_ROOT
        if base:
            root = base.rstrip("/")
            project = service_account["project_id"]
            service._fcm_url = f"{root}/v1/projects/{project}/messages:send"
            service._fcm_topic_url = f"{root}/v1/projects/{project}/registrations"
        service._client.session.mount(root, _adapter())
        _apps[name] = app
        return app


FCM_ROOT = "https://fcm.googleapis.com"


def _adapter() -> Any:
    """The library's retries, minus sleeping on Retry-After inside the send: a 429 comes back at
    once and the engine reschedules the delivery for after Retry-After, freeing the worker."""
    import requests
    from urllib3.util import retry

    policy = retry.Retry(
        connect=1,
        read=1,
        status=2,
        status_forcelist=[500, 503],
        backoff_factor=0.5,
        raise_on_status=False,
        allowed_methods=None,
        respect_retry_after_header=False,
    )
    return requests.adapters.HTTPAdapter(pool_connections=100, pool_maxsize=100, max_retries=policy)


_TOKEN = re.compile(r"\A[A-Za-z0-9_:\-.]{20,1024}\Z")


class Fcm(Provider):
    name = "fcm"
    batch_size = 500
    max_payload = 4096

    def check_token(self, token: str) -> str | None:
        return None if _TOKEN.match(token) else "Not an FCM registration token."

    def _payload(self, message: dict[str, Any], texts: dict[str, str], badge: int | None) -> dict[str, Any]:
        payload: dict[str, Any] = {}
        if texts:
            payload["notification"] = texts
        if message.get("data"):
            payload["data"] = data_strings(message["data"])
        if badge is not None:
            payload["badge"] = badge
        return payload

    def payload_size(self, message: dict[str, Any], texts: dict[str, str], badge: int | None) -> int:
        return len(orjson.dumps(self._payload(message, texts, badge)))

    def build(self, envelope: Envelope, item: Outgoing) -> Any:
        from firebase_admin import messaging

        message = envelope.message
        ttl = ttl_seconds(envelope.expires_at, timezone.now())
        texts = item.texts
        notification = (
            messaging.Notification(title=texts.get("title"), body=texts.get("body"), image=texts.get("image"))
            if texts
            else None
        )
        android = messaging.AndroidConfig(
            collapse_key=message.get("collapse_key"),
            priority=message.get("priority", "high"),
            ttl=timedelta(seconds=ttl) if ttl is not None else None,
            notification=messaging.AndroidNotification(notification_count=item.badge)
            if item.badge is not None and texts
            else None,
        )
        apns = None
        if item.badge is not None:
            apns = messaging.APNSConfig(payload=messaging.APNSPayload(aps=messaging.Aps(badge=item.badge)))
        return messaging.Message(
            token=item.token,
            notification=notification,
            data=data_strings(message.get("data")) or None,
            android=android,
            apns=apns,
        )

    def send(self, credentials: Any, envelope: Envelope, items: list[Outgoing]) -> list[Outcome]:
        import warnings

        from firebase_admin import exceptions, messaging

        global calls
        app = messaging_app(credentials.service_account)
        with warnings.catch_warnings():
            # 7.7.0 deprecates Message.token in favour of `fid`; tokens are what devices register.
            warnings.simplefilter("ignore", DeprecationWarning)
            messages = [self.build(envelope, item) for item in items]
        calls += 1
        try:
            batch = messaging.send_each(messages, app=app)
        except exceptions.FirebaseError as exc:
            cause = exc.cause
            from google.auth import exceptions as auth_exceptions

            if isinstance(cause, auth_exceptions.RefreshError):
                raise ProviderAuthError(f"FCM credentials refused: {str(cause)[:200]}") from None
            return [Outcome(item.delivery_id, RETRY, f"fcm: {str(exc)[:150]}") for item in items]
        return [_outcome(item, response) for item, response in zip(items, batch.responses, strict=True)]


def _outcome(item: Outgoing, response: Any) -> Outcome:
    from firebase_admin import exceptions, messaging

    if response.success:
        return Outcome(item.delivery_id, SENT)
    exc = response.exception
    reason = f"fcm: {type(exc).__name__}: {str(exc)[:150]}"
    if isinstance(exc, messaging.UnregisteredError | messaging.SenderIdMismatchError):
        return Outcome(item.delivery_id, INVALID, reason)
    if isinstance(exc, exceptions.InvalidArgumentError) and "token" in str(exc).lower():
        return Outcome(item.delivery_id, INVALID, reason)
    if isinstance(
        exc, exceptions.UnauthenticatedError | exceptions.PermissionDeniedError | messaging.ThirdPartyAuthError
    ):
        raise ProviderAuthError(reason)
    if isinstance(
        exc,
        messaging.QuotaExceededError
        | exceptions.UnavailableError
        | exceptions.InternalError
        | exceptions.DeadlineExceededError
        | exceptions.UnknownError
        | exceptions.ResourceExhaustedError,
    ):
        headers = getattr(getattr(exc, "http_response", None), "headers", None)
        return Outcome(item.delivery_id, RETRY, reason, retry_after_seconds(headers))
    return Outcome(item.delivery_id, FAILED, reason)


PROVIDER = Fcm()
