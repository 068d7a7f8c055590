"""What the HTTP server itself answers: malformed bodies and requests, long URLs, big headers, a busy port.

Every refusal Basalt makes, whichever layer makes it, is API.md's JSON error with an X-Request-Id,
on `serve` (granian by default, or daphne) and on granian (the production `web` role). What granian's
HTTP parser (hyper) refuses before any application runs (bytes that are not HTTP, targets of 64 KiB
and more, more than 100 header lines) gets hyper's own answer: the right 4xx status, no body, the
connection closed; `serve --http-server daphne` answers those with the JSON error too.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from devtools.readiness import wait_until_answering
from tests.contract import live

pytestmark = pytest.mark.live
ROOT = Path(__file__).resolve().parents[2]
POSTS = {"name": "notes", "fields": {"title": {"type": "string"}}, "permissions": {"create": ["*"]}}


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    server = live.start(tmp_path_factory.mktemp("edge") / "data")
    project = live.make_project(server.url, "Edge")
    live.create_collection(project, POSTS)
    yield project
    live.stop(server)


@pytest.fixture(scope="module", params=["granian", "daphne"])
def each_server(request, tmp_path_factory):
    """`serve` on each of its HTTP servers: (which, port)."""
    server = live.start(
        tmp_path_factory.mktemp(f"edge-{request.param}") / "data", args=("--http-server", request.param)
    )
    yield request.param, port_of(server.url)
    live.stop(server)


def assert_refused(server: str, status: int, headers: dict[str, str], body: bytes, expected_status: int) -> None:
    """The JSON error under daphne; under granian hyper's bare answer (what its parser refuses
    reaches no application): the status, no body, the connection closed."""
    if server == "daphne":
        assert_json_error(status, headers, body, expected_status)
        return
    assert status == expected_status, (status, body[:300])
    assert body == b"" and headers.get("connection") == "close", (headers, body[:300])


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def raw_request(port: int, data: bytes, timeout: float = 30) -> tuple[int, dict[str, str], bytes]:
    """Send bytes as they are and read one response; a dropped connection is a failure, not a status."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        return read_response(sock)


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One response from a connection: (status, lower-cased headers, body)."""
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = sock.recv(65536)
        assert chunk, f"the server closed the connection without an answer (got {received[:200]!r})"
        received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:])}
    if "content-length" in headers:
        while len(body) < int(headers["content-length"]):
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
    elif headers.get("transfer-encoding") == "chunked":
        while not body.endswith(b"0\r\n\r\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
        body = _dechunk(body)
    return int(lines[0].split()[1]), headers, body


def _dechunk(body: bytes) -> bytes:
    out = b""
    while body:
        size_line, _, rest = body.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            break
        out, body = out + rest[:size], rest[size + 2 :]
    return out


def assert_json_error(status: int, headers: dict[str, str], body: bytes, expected_status: int | None = None) -> dict:
    assert 400 <= status < 500, (status, body[:300])
    if expected_status is not None:
        assert status == expected_status, (status, body[:300])
    assert headers.get("content-type", "").startswith("application/json"), (status, headers, body[:300])
    assert re.fullmatch(r"[A-Za-z0-9._:-]{8,128}", headers.get("x-request-id", "")), headers
    error = json.loads(body)["error"]
    assert isinstance(error["code"], str) and isinstance(error["message"], str)
    return error


def post(path: str, content_type: str | None, body: bytes, key: str = "") -> bytes:
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\nConnection: close\r\n"
    if content_type is not None:
        head += f"Content-Type: {content_type}\r\n"
    if key:
        head += f"X-API-Key: {key}\r\n"
    return head.encode("latin-1") + b"\r\n" + body


MALFORMED_BODIES = {
    "multipart without boundary": ("multipart/form-data", b"--x\r\nContent-Disposition: form-data\r\n\r\nv\r\n--x--"),
    "multipart, truncated": ("multipart/form-data; boundary=zz", b"--zz\r\nContent-Disposition: form-data; na"),
    "multipart, unknown boundary": ("multipart/form-data; boundary=zz", b"--other\r\n\r\nvalue\r\n--other--\r\n"),
    "multipart, non-ASCII boundary": ("multipart/form-data; boundary=\xe9t\xe9", b"--\xe9t\xe9\r\n\r\nv\r\n"),
    "form, bad escapes": ("application/x-www-form-urlencoded", b"%ff=%fe&&==&a=%"),
    "JSON, broken": ("application/json", b'{"title": '),
    "JSON, not UTF-8": ("application/json", b'{"title": "\xff\xfe"}'),
    "JSON, NUL bytes": ("application/json", b'{"title": "\x00"}\x00'),
    "plain text": ("text/plain", b"title=x"),
    "octet stream": ("application/octet-stream", b"\x00\x01\x02"),
    "XML": ("application/xml", b"<title>x</title>"),
}
BODY_ROUTES = {
    "data API": ("/api/v1/collections/notes/documents", "publishable"),
    "end-user sign-up": ("/api/v1/auth/signup", "publishable"),
    "management API": ("/api/v1/manage/auth/jwt/create/", ""),
    "batch": ("/api/v1/batch", "secret"),
}


@pytest.mark.parametrize("route", BODY_ROUTES)
def test_malformed_bodies_of_every_type_get_the_json_error_and_a_request_id(served, route):
    path, key_kind = BODY_ROUTES[route]
    key = getattr(served, key_kind) if key_kind else ""
    for name, (content_type, body) in MALFORMED_BODIES.items():
        status, headers, answer = raw_request(port_of(served.url), post(path, content_type, body, key))
        try:
            assert_json_error(status, headers, answer)
        except AssertionError as exc:
            raise AssertionError(f"{route}, {name}: {exc}") from None


def test_malformed_multipart_to_the_console_still_has_a_request_id(served):
    data = post("/console/signin", "multipart/form-data", b"--x\r\ngarbage")
    status, headers, _ = raw_request(port_of(served.url), data)
    assert status == 400 or status == 403
    assert headers.get("x-request-id")


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GARBAGE\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: abc\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nBad Header Name: x\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: gzip, chunked, x\r\n\r\n",
        b"GET /api/v1/\xff\xfe HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        b"GET /api/v1/project?\xff HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    ],
    ids=["request line", "content length", "header name", "transfer encoding", "raw path bytes", "raw query bytes"],
)
def test_malformed_http_is_a_400_and_json_under_daphne(each_server, request_bytes):
    server, port = each_server
    status, headers, body = raw_request(port, request_bytes)
    assert_refused(server, status, headers, body, 400)


def long_get(path: str, length: int) -> bytes:
    query = "where=" + "a" * (length - len(path) - len("?where="))
    return f"GET {path}?{query} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()


def test_long_urls_are_answered_and_over_long_ones_get_414(each_server):
    server, port = each_server
    # 20 KB: past the old 16 KB drop, well within the limit: the API itself answers.
    status, headers, body = raw_request(port, long_get("/api/v1/collections/notes/documents", 20_000))
    assert status in (400, 401), body[:300]
    assert headers.get("x-request-id")
    # Past the limit and below what granian reads at all: the JSON 414 from every server.
    status, headers, body = raw_request(port, long_get("/api/v1/collections/notes/documents", 65_200))
    assert assert_json_error(status, headers, body, 414)["code"] == "uri_too_long"
    for length in (70_000, 200_000):
        status, headers, body = raw_request(port, long_get("/api/v1/collections/notes/documents", length))
        assert_refused(server, status, headers, body, 414)
        if server == "daphne":
            assert json.loads(body)["error"]["code"] == "uri_too_long"


def test_oversized_headers_get_431(each_server):
    server, port = each_server
    upgrade = "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    upgrade += "Sec-WebSocket-Version: 13\r\n"
    for start in ("GET /healthz HTTP/1.1\r\n", "GET /api/v1/realtime HTTP/1.1\r\n" + upgrade):
        request = f"{start}Host: 127.0.0.1\r\n".encode() + b"X-Big: " + b"a" * 120_000 + b"\r\n\r\n"
        status, headers, body = raw_request(port, request)
        assert assert_json_error(status, headers, body, 431)["code"] == "headers_too_large"
    # 120 header lines: hyper (granian) refuses more than 100 itself.
    many = b"".join(b"X-H%d: %s\r\n" % (n, b"b" * 1000) for n in range(120))
    status, headers, body = raw_request(port, b"GET /healthz HTTP/1.1\r\nHost: a\r\n" + many + b"\r\n")
    assert_refused(server, status, headers, body, 431)


def test_serve_on_a_busy_port_says_so_and_exits_non_zero(served, tmp_path):
    # No database of its own: it must fail before serving (one made here was never dropped).
    env, _ = live.server_env(tmp_path / "data", own_database=False)
    port = str(port_of(served.url))
    result = subprocess.run(
        [sys.executable, "manage.py", "serve", "--no-migrate", "--host", "127.0.0.1", "--port", port],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode != 0, result.stdout + result.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr, result.stderr
    assert "Basalt (" not in result.stdout, "the banner claimed it was serving"


# --- granian, the production `web` server -------------------------------------------------------


@pytest.fixture(scope="module")
def granian(tmp_path_factory):
    folder = tmp_path_factory.mktemp("granian")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BASALT_", "DJANGO_", "CELERY_"))}
    for name in ("DATABASE_URL", "REDIS_URL"):
        env.pop(name, None)
    env.update(BASALT_DATA_DIR=str(folder / "data"), PYTHONPATH=str(ROOT / "platform"), LOG_LEVEL="WARNING")
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], env=env, cwd=ROOT, check=True, timeout=300)
    port = live.free_port()
    log = (folder / "granian.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "granian", "basalt.wsgi:application", "--interface", "wsgi", "--host", "127.0.0.1",
         "--port", str(port), "--workers", "1", "--blocking-threads", "2"],
        env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    failure = wait_until_answering(f"http://127.0.0.1:{port}/healthz", process, 90)
    assert failure is None, f"granian {failure}: {(folder / 'granian.log').read_text()[-3000:]}"
    yield port
    process.terminate()
    process.wait(timeout=30)
    log.close()


def test_granian_answers_the_same_url_limit_with_the_json_414(granian):
    status, headers, body = raw_request(granian, long_get("/api/v1/project", 20_000))
    assert status == 401 and headers.get("x-request-id"), body[:300]
    status, headers, body = raw_request(granian, long_get("/api/v1/project", 65_200))
    assert assert_json_error(status, headers, body, 414)["code"] == "uri_too_long"
    # Past what granian reads at all it answers 414 itself (no JSON): still an answer, never a drop.
    status, _, _ = raw_request(granian, long_get("/api/v1/project", 70_000))
    assert status == 414


def test_granian_gives_malformed_multipart_the_json_error(granian):
    status, headers, body = raw_request(granian, post("/api/v1/project", "multipart/form-data", b"--x\r\n", "pk_x"))
    assert_json_error(status, headers, body)


def test_a_request_django_cannot_build_still_gets_the_json_error_and_a_request_id():
    """Django's ASGI handler answers an undecodable request outside every middleware; ours does not."""
    import asyncio

    from basalt.asgi import django_asgi_app

    scope = {"type": "http", "method": "GET", "path": "/api/v1/project", "query_string": b"where=\xff", "headers": []}
    inbox = [{"type": "http.request", "body": b"", "more_body": False}]
    sent: list[dict] = []

    async def receive():
        return inbox.pop(0) if inbox else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    asyncio.run(django_asgi_app(scope, receive, send))
    start, body = sent[0], b"".join(m.get("body", b"") for m in sent[1:])
    headers = {name.decode().lower(): value.decode() for name, value in start["headers"]}
    assert_json_error(start["status"], headers, body, 400)


def _chunked(url: str, path: str, pieces: list[bytes], **headers: str) -> httpx.Response:
    return httpx.post(url + path, content=iter(pieces), headers=headers, timeout=60)  # an iterator: chunked


def test_granian_hands_a_small_chunked_body_to_the_view_and_bounds_a_large_one(granian):
    """granian leaves CONTENT_LENGTH out for a chunked body, and Django read such a body as empty."""
    url = f"http://127.0.0.1:{granian}"
    answer = _chunked(
        url, "/api/v1/manage/auth/jwt/create", [b'{"email": ', b'"a@b.co"}'], **{"Content-Type": "application/json"}
    )
    assert answer.status_code == 400, answer.text
    assert set(answer.json()["error"]["details"]) == {"password"}  # the email was read
    big = [b'{"email": "a@b.co", "password": "'] + [b"x" * 1024 * 1024] * 3 + [b'"}']
    answer = _chunked(url, "/api/v1/manage/auth/jwt/create", big, **{"Content-Type": "application/json"})
    assert answer.status_code == 413 and answer.json()["error"]["code"] == "payload_too_large"


def test_granian_reads_a_chunked_document_body_on_the_hot_routes_and_bounds_a_large_one(granian):
    """Documents are answered past the middleware chain (documents.api.hot_routes), except what a
    layer treats specially: a chunked body still gets the chain's bounded read."""
    url = f"http://127.0.0.1:{granian}"
    project = live.make_project(url, "Chunked documents")
    live.create_collection(
        project,
        {
            "name": "notes",
            "fields": {"title": {"type": "string"}},
            "permissions": {op: ["*"] for op in ("get", "find", "count", "create", "update", "delete")},
            "default_acl": "public",
        },
    )
    headers = {"X-API-Key": project.secret, "Content-Type": "application/json"}
    made = _chunked(url, "/api/v1/collections/notes/documents", [b'{"title": ', b'"chunked"}'], **headers)
    assert made.status_code == 201 and made.json()["title"] == "chunked", made.text
    big = [b'{"title": "'] + [b"x" * 1024 * 1024] * 2 + [b'"}']
    refused = _chunked(url, "/api/v1/collections/notes/documents", big, **headers)
    assert refused.status_code == 413 and refused.json()["error"]["code"] == "payload_too_large"
    listed = httpx.get(f"{url}/api/v1/collections/notes/documents", headers=headers, timeout=30).json()
    assert [doc["title"] for doc in listed["results"]] == ["chunked"]


def test_granian_refuses_a_chunked_upload_it_could_not_tell_from_a_cut_one_and_stores_nothing(granian):
    """granian 2.8.7 reads a chunked body ended by a hang-up or bad framing as a clean end: a
    chunked upload was stored as a 0-byte file (Django read nothing), and streamed to its end it
    would be a truncated file with a sha256 of its own. 411 names both ways that are checked."""
    url = f"http://127.0.0.1:{granian}"
    project = live.make_project(url, "Chunked on granian")
    key = {"X-API-Key": project.secret, "Content-Type": "application/octet-stream"}
    answer = _chunked(url, "/api/v1/files?name=c.bin", [os.urandom(300 * 1024)] * 4, **key)
    assert answer.status_code == 411, answer.text
    assert answer.json()["error"]["code"] == "length_required" and "tus" in answer.json()["error"]["message"]
    listed = httpx.get(f"{url}/api/v1/files", headers={"X-API-Key": project.secret}, timeout=30)
    assert listed.json()["results"] == []
    data = os.urandom(300 * 1024)
    answer = httpx.post(f"{url}/api/v1/files?name=c.bin", content=data, headers=key, timeout=60)
    assert answer.status_code == 201 and answer.json()["size"] == len(data), answer.text
