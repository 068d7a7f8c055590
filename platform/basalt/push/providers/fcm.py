"""FCM through firebase-admin's HTTP v1 send path: one call per batch of at most 500 messages.

FCM HTTP v1 takes one message per HTTP request (the multi-message batch endpoint was shut down
upstream), so a "call" here is what `messaging.send_each` is: up to 500 messages sent
concurrently. It is made with the library's own per-message `messaging.send` (the same request,
auth and error mapping send_each uses) on a thread pool kept for the process: send_each starts
a fresh thread per message (500 per batch) against a 100-connection pool that is not blocking,
so every batch also opened and threw away connections. Profiled at 3,000 sends: ~100 µs of CPU
a message less, plus ~80 µs from resolving proxy settings once per app instead of per request
(requests reads the whole environment on every request otherwise).

The URL seam (`PUSH_FCM_API_BASE`, tests only) rewrites the per-app messaging service's
`_fcm_url`; firebase-admin offers no option for it (EXTERNALS.md). A test fails if the
library stops honouring it (tests/push/test_fcm.py).
"""

from __future__ import annotations

import hashlib
import os
import queue
import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import orjson
import requests.adapters
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
_pool: ThreadPoolExecutor | None = None
_pool_key: tuple[int, int] = (0, 0)
# Counted per batch call (each carries ≤ 500 messages); the bench and T15 read it.
calls = 0


def _threads() -> int:
    return max(1, settings.PUSH_FCM_CONCURRENCY)


def _executor() -> ThreadPoolExecutor:
    """The process's FCM send threads (made after a prefork worker forks, never inherited)."""
    global _pool, _pool_key
    with _apps_lock:
        key = (os.getpid(), _threads())
        if _pool is None or _pool_key != key:
            if _pool is not None and _pool_key[0] == key[0]:
                _pool.shutdown(wait=False)
            _pool = ThreadPoolExecutor(max_workers=key[1], thread_name_prefix="fcm-send")
            _pool_key = key
        return _pool


def messaging_app(service_account: dict[str, Any]) -> Any:
    """One firebase_admin App per distinct service account, with the URL seam applied."""
    import firebase_admin
    from firebase_admin import credentials, messaging

    digest = hashlib.sha256(orjson.dumps(service_account, option=orjson.OPT_SORT_KEYS)).hexdigest()[:24]
    base = settings.PUSH_FCM_API_BASE
    # The base and the concurrency (the connection pool's size) are part of the app's identity.
    seam = hashlib.sha256(f"{base}|{_threads()}".encode()).hexdigest()[:8]
    name = f"basalt-{digest}-{seam}"
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
        session = service._client.session
        session.mount(root, _adapter())
        _settle_environment(session, root)
        _apps[name] = app
        return app


def _settle_environment(session: Any, root: str) -> None:
    """Read proxy and CA-bundle settings from the environment once, for the one host this session
    calls, instead of on every request (requests' trust_env walks os.environ per request)."""
    import requests.utils

    session.proxies = dict(requests.utils.get_environ_proxies(root))
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle:
        session.verify = bundle
    session.trust_env = False


FCM_ROOT = "https://fcm.googleapis.com"


def _adapter() -> Any:
    """The library's retries, minus sleeping on Retry-After inside the send: a 429 comes back at
    once and the engine reschedules the delivery for after Retry-After, freeing the worker."""
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
    # As many kept-alive connections as send threads, and a thread waits for a free one rather
    # than opening a connection the pool would then discard.
    size = _threads()
    return _Adapter(pool_connections=1, pool_maxsize=size, pool_block=True, max_retries=policy)


class _Adapter(requests.adapters.HTTPAdapter):
    """requests' adapter, remembering the pool key of each (URL, verify, cert) it has seen.

    FCM sends go to one URL, and requests works the key out again for every request (parsing the
    URL, and a stat of the CA bundle when `verify` is a path). This is a hook requests documents
    for subclasses; the pools themselves are still looked up in urllib3's pool manager."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._keys: dict[tuple, tuple[dict[str, Any], dict[str, Any]]] = {}

    def build_connection_pool_key_attributes(self, request: Any, verify: Any, cert: Any = None) -> Any:
        key = (request.url, verify, cert)
        known = self._keys.get(key)
        if known is None:
            known = super().build_connection_pool_key_attributes(request, verify, cert)
            if len(self._keys) < 64:  # one URL in practice; never an unbounded cache
                self._keys[key] = known
        # Copies, so that nothing further on can change the remembered ones.
        return dict(known[0]), dict(known[1])


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
        from google.auth import exceptions as auth_exceptions

        global calls
        app = messaging_app(credentials.service_account)
        with warnings.catch_warnings():
            # 7.7.0 deprecates Message.token in favour of `fid`; tokens are what devices register.
            warnings.simplefilter("ignore", DeprecationWarning)
            messages = [self.build(envelope, item) for item in items]
        calls += 1
        try:
            # The access token first, once: otherwise every send thread finding it missing or
            # expired would ask the token endpoint at the same moment.
            _fresh_token(app)
        except auth_exceptions.RefreshError as exc:
            raise ProviderAuthError(f"FCM credentials refused: {str(exc)[:200]}") from None
        except Exception as exc:  # the token endpoint unreachable: the whole batch waits
            return [Outcome(item.delivery_id, RETRY, f"fcm: token: {type(exc).__name__}") for item in items]

        def one(message: Any) -> Any:
            try:
                messaging.send(message, app=app)
            except exceptions.FirebaseError as exc:
                return exc
            except auth_exceptions.RefreshError as exc:
                return ProviderAuthError(f"FCM credentials refused: {str(exc)[:200]}")
            except Exception as exc:  # outside the library's mapping: retried like a 5xx
                return exc
            return None

        results = _each(one, messages)
        refused = next((r for r in results if isinstance(r, ProviderAuthError)), None)
        if refused is not None:
            raise refused
        return [_outcome(item, result) for item, result in zip(items, results, strict=True)]


def _each(send: Callable[[Any], Any], messages: list[Any]) -> list[Any]:
    """`send` applied to every message on the process's send threads, in order.

    One task per thread, each taking the next message from a shared queue until none is left, not
    one task per message: 500 futures a batch (each with its own lock and condition, and a thread
    woken for each) cost the batch's own thread about a third of its CPU in py-spy profiles."""
    results: list[Any] = [None] * len(messages)
    todo: queue.SimpleQueue[int] = queue.SimpleQueue()
    for index in range(len(messages)):
        todo.put(index)

    def drain() -> None:
        while True:
            try:
                index = todo.get_nowait()
            except queue.Empty:
                return
            results[index] = send(messages[index])

    tasks = [_executor().submit(drain) for _ in range(min(_threads(), len(messages)))]
    # Every drain ends before anything is raised: none may still be sending once the batch is
    # reported, or a delivery marked for retry could be on the wire.
    failures = [task.exception() for task in tasks]
    failure = next((exc for exc in failures if exc is not None), None)
    if failure is not None:
        raise failure
    return results


def _fresh_token(app: Any) -> None:
    from google.auth.transport.requests import Request

    credential = app.credential.get_credential()
    if not credential.valid:
        credential.refresh(Request())


def _outcome(item: Outgoing, exc: Exception | None) -> Outcome:
    """What one send's exception (None: accepted) means for its delivery."""
    from firebase_admin import exceptions, messaging

    if exc is None:
        return Outcome(item.delivery_id, SENT)
    if not isinstance(exc, exceptions.FirebaseError):
        return Outcome(item.delivery_id, RETRY, f"fcm: {type(exc).__name__}: {str(exc)[:150]}")
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
