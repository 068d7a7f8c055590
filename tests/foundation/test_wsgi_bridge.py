"""The one-hop bridge from ASGI HTTP to Django's WSGI handler, driven as an ASGI server drives it."""

from __future__ import annotations

import asyncio
import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from basalt.core.wsgi_bridge import ThreadedWSGIBridge, build_environ


def http_scope(path: str, method: str = "GET", headers: list[tuple[bytes, bytes]] = (), query: bytes = b"") -> dict:
    return {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "headers": list(headers),
        "http_version": "1.1",
        "scheme": "http",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50000),
    }


async def call(app, scope: dict, body_parts: list[bytes] = (b"",)) -> tuple[dict, list[dict]]:
    last = len(body_parts) - 1
    inbox = [{"type": "http.request", "body": part, "more_body": i < last} for i, part in enumerate(body_parts)]
    sent: list[dict] = []

    async def receive():
        return inbox.pop(0) if inbox else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    await app(scope, receive, send)
    return sent[0], sent[1:]


def threads(count: int) -> asyncio.Queue:
    idle: asyncio.Queue = asyncio.Queue()
    for number in range(count):
        idle.put_nowait(ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"test-request-{number}"))
    return idle


def test_headers_and_paths_become_the_wsgi_environ_django_expects():
    scope = http_scope(
        "/api/v1/caf\u00e9",
        headers=[
            (b"content-type", b"application/json"),
            (b"accept", b"text/html"),
            (b"accept", b"application/json"),
            (b"cookie", b"a=1"),
            (b"cookie", b"b=2"),
            (b"x-api-key", b"pk_x"),
        ],
        query=b"where=%7B%7D",
    )
    environ = build_environ(scope, None)
    assert environ["PATH_INFO"].encode("latin-1").decode("utf-8") == "/api/v1/caf\u00e9"
    assert environ["QUERY_STRING"] == "where=%7B%7D"
    assert environ["CONTENT_TYPE"] == "application/json"
    assert environ["HTTP_ACCEPT"] == "text/html,application/json"
    assert environ["HTTP_COOKIE"] == "a=1; b=2"
    assert environ["HTTP_X_API_KEY"] == "pk_x"
    assert environ["REMOTE_ADDR"] == "127.0.0.1"


def test_a_chunked_body_without_content_length_reaches_the_application_whole():
    seen = {}

    def app(environ, start_response):
        seen["body"] = environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"]))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    async def run():
        return await call(ThreadedWSGIBridge(threads(1), handler=app), http_scope("/", "POST"), [b"ab", b"cd", b"ef"])

    start, body = asyncio.run(run())
    assert start["status"] == 200
    assert seen["body"] == b"abcdef"


def test_a_streamed_response_arrives_whole_on_one_thread_and_is_closed_there_once():
    events: list[tuple[str, str]] = []

    class Stream:
        streaming = True

        def __iter__(self):
            for number in range(200):
                events.append(("chunk", threading.current_thread().name))
                yield f"{number:05d}".encode() * 4000  # 20 kB pieces: several sends

        def close(self):
            events.append(("close", threading.current_thread().name))

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return Stream()

    async def run():
        return await call(ThreadedWSGIBridge(threads(2), handler=app), http_scope("/download"))

    start, messages = asyncio.run(run())
    assert start["status"] == 200
    payload = b"".join(m["body"] for m in messages)
    assert payload == b"".join(f"{n:05d}".encode() * 4000 for n in range(200))
    assert len(messages) > 2, "a large stream is sent in pieces, not buffered into one message"
    assert messages[-1]["more_body"] is False and all(m["more_body"] for m in messages[:-1])
    assert [kind for kind, _ in events].count("close") == 1
    assert len({name for _, name in events}) == 1, "iteration and close share the request's thread (its DB connection)"


def test_no_more_requests_run_at_once_than_there_are_threads():
    running, peak, lock = [0], [0], threading.Lock()
    release = threading.Event()

    def app(environ, start_response):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        release.wait(5)
        with lock:
            running[0] -= 1
        start_response("204 No Content", [])
        return []

    async def run():
        bridge = ThreadedWSGIBridge(threads(3), handler=app)
        calls = [asyncio.create_task(call(bridge, http_scope("/"))) for _ in range(12)]
        await asyncio.sleep(0.3)
        release.set()
        return await asyncio.gather(*calls)

    results = asyncio.run(run())
    assert [start["status"] for start, _ in results] == [204] * 12
    assert peak[0] == 3


@pytest.mark.django_db(transaction=True)
def test_basalt_errors_through_the_bridge_keep_the_json_contract():
    from basalt.asgi import application

    async def run():
        return await call(application, http_scope("/api/v1/project", headers=[(b"x-api-key", b"pk_not_a_key")]))

    start, messages = asyncio.run(run())
    headers = {name.decode(): value.decode() for name, value in start["headers"]}
    assert start["status"] == 401
    assert headers["content-type"].startswith("application/json")
    assert headers["x-request-id"]
    error = json.loads(b"".join(m["body"] for m in messages))
    assert error["error"]["code"] == "invalid_api_key"
