"""Behaviour only a real server process shows: chunked bodies, and readiness with dependencies down."""

from __future__ import annotations

import http.client
import json

import pytest

from tests.foundation.conftest import LiveServer, free_port

pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def embedded_server(tmp_path_factory):
    """One embedded-default server (SQLite, in-memory layer) shared by the tests that need no outage."""
    server = LiveServer(tmp_path_factory.mktemp("embedded"), {})
    yield server
    server.stop()


def request(port: int, method: str, path: str, body: bytes | None = None, headers: dict | None = None, chunks=None):
    """One HTTP/1.1 request to 127.0.0.1; `chunks` sends the body with Transfer-Encoding: chunked."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        if chunks is not None:
            conn.putrequest(method, path)
            for name, value in {"Content-Type": "application/json", **(headers or {})}.items():
                conn.putheader(name, value)
            conn.putheader("Transfer-Encoding", "chunked")
            conn.endheaders()
            try:
                for chunk in chunks:
                    conn.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                conn.send(b"0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server may answer 413 and close before the body ends
        else:
            conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        # Header names are case-insensitive (granian sends them lower-case): the message's own mapping.
        return response.status, response.headers, response.read()
    finally:
        conn.close()


def closed_url(scheme: str) -> str:
    return (
        f"{scheme}://127.0.0.1:{free_port()}/0"
        if scheme == "redis"
        else f"postgres://postgres@127.0.0.1:{free_port()}/x"
    )


def test_chunked_bodies_are_bounded_and_parsed(embedded_server):
    server = embedded_server
    megabyte = b"x" * (1024 * 1024)
    body_chunks = [b'{"email": "a@example.com", "password": "'] + [megabyte] * 10 + [b'"}']
    status, headers, body = request(server.port, "POST", "/api/v1/manage/auth/jwt/create/", chunks=body_chunks)
    assert status == 413, body[:300]
    assert json.loads(body)["error"]["code"] == "payload_too_large"
    assert headers.get("X-Request-Id")

    # A small chunked body is read, not mistaken for an empty one: only `password` is missing.
    status, _, body = request(
        server.port, "POST", "/api/v1/manage/auth/jwt/create", chunks=[b'{"email": ', b'"a@b.co"}']
    )
    assert status == 400, body
    error = json.loads(body)["error"]
    assert error["code"] == "validation_failed" and set(error["details"]) == {"password"}

    status, _, body = request(server.port, "POST", "/api/v1/manage/auth/jwt/create", chunks=[b'{"email": ', b"\xff}"])
    assert status == 400 and json.loads(body)["error"]["code"] == "invalid_json"


def test_content_length_body_of_ten_megabytes_is_refused(embedded_server):
    server = embedded_server
    big = b'{"name": "' + b"x" * (10 * 1024 * 1024) + b'"}'
    status, _, body = request(
        server.port, "POST", "/api/v1/manage/projects", body=big, headers={"Content-Type": "application/json"}
    )
    assert status == 413 and json.loads(body)["error"]["code"] == "payload_too_large"


def test_readiness_reports_a_stopped_database(live_server_factory):
    server = live_server_factory({"DATABASE_URL": closed_url("postgres")})
    status, headers, body = request(server.port, "GET", "/readyz")
    assert status == 503, body
    error = json.loads(body)["error"]
    assert error["code"] == "unavailable" and "database" in error["message"]
    assert error["details"]["database"] == "down"
    assert int(headers["Retry-After"]) >= 1
    assert headers.get("X-Request-Id")
    status, _, body = request(server.port, "GET", "/healthz")
    assert status == 200 and json.loads(body) == {"status": "ok"}
    # An API request that needs the database is a 503 too, never a 500.
    status, headers, body = request(server.port, "GET", "/api/v1/project", headers={"X-API-Key": "pk_" + "a" * 43})
    assert status == 503 and json.loads(body)["error"]["code"] == "unavailable", body


def test_readiness_reports_a_stopped_redis(live_server_factory):
    server = live_server_factory({"REDIS_URL": closed_url("redis")})
    status, _, body = request(server.port, "GET", "/readyz")
    assert status == 503, body
    error = json.loads(body)["error"]
    assert error["details"]["channel_layer"] == "down" and error["details"]["broker"] == "down"
    assert "channel_layer" in error["message"] and "broker" in error["message"]
    status, _, _ = request(server.port, "GET", "/healthz")
    assert status == 200


def test_readiness_is_ok_when_everything_answers(embedded_server):
    server = embedded_server
    status, _, body = request(server.port, "GET", "/readyz")
    assert status == 200, body
    answer = json.loads(body)
    assert answer["status"] == "ready"
    assert answer["checks"] == {"database": "ok", "channel_layer": "ok", "broker": "ok"}
