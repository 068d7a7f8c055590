"""Local-storage downloads handed to the front proxy (FILES_ACCEL_REDIRECT): a real Caddy running the
shipped docker/Caddyfile in front of a real granian (basalt.wsgi, SQLite, local storage).

What a client gets through Caddy must be what Basalt itself answers (the same granian, asked directly:
no X-Sendfile-Type, so it streams the bytes): status, body, and every header Basalt sets; Caddy must
never serve a file Basalt did not name, nor anything outside the files folder.
"""

from __future__ import annotations

import http.server
import os
import threading
from pathlib import Path

import httpx
import pytest

from basalt.files.serving import WHOLE_BODY
from tests.contract import live
from tests.files import front, images
from tests.files.conftest import live_upload

pytestmark = pytest.mark.live

# The headers Basalt sets on a content answer, compared between the two paths.
SAME = (
    "content-type",
    "content-length",
    "content-range",
    "content-disposition",
    "etag",
    "cache-control",
    "accept-ranges",
    "x-content-type-options",
    "content-security-policy",
    "cross-origin-resource-policy",
)
PLAIN = {"Accept-Encoding": "identity"}


@pytest.fixture(scope="module")
def edge(tmp_path_factory):
    if front.caddy_binary() is None:
        if os.environ.get("CI"):
            pytest.fail("caddy is missing under CI=true; .ci/steps/files.sh should install it")
        pytest.skip("caddy is not installed (apt-get install caddy; .ci/steps/files.sh does)")
    folder = tmp_path_factory.mktemp("accel")
    data = folder / "data"
    web = front.start_granian(data, {"FILES_ACCEL_REDIRECT": front.ACCEL_PREFIX})
    try:
        proxy = front.start_caddy(folder / "caddy", int(web.url.rsplit(":", 1)[1]), data / "files")
    except BaseException:
        front.stop(web)
        raise
    try:
        project = live.make_project(proxy.url, "Accel")
        yield web, proxy, project, data / "files"
    finally:
        front.stop(proxy)
        front.stop(web)


def _stored(edge, data: bytes, name: str = "big.bin") -> str:
    web, proxy, project, _ = edge
    answer = live_upload(proxy.url, project.secret, data, name)
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]


def _both(edge, method: str, path: str, key: str | None = None, **headers: str):
    """(through Caddy, Basalt alone) for the same request."""
    web, proxy, project, _ = edge
    sent = {**PLAIN, **headers}
    if key is not None:
        sent["X-API-Key"] = key
    with httpx.Client(timeout=60) as http:
        return (
            http.request(method, proxy.url + path, headers=sent),
            http.request(method, web.url + path, headers=sent),
        )


def _assert_same(edged: httpx.Response, alone: httpx.Response) -> None:
    assert edged.status_code == alone.status_code, (edged.status_code, alone.status_code, edged.text[:300])
    for name in SAME:
        if edged.status_code == 304 and name in ("content-type", "content-length"):
            continue  # Go's HTTP server drops both from any 304 it relays (no body to describe)
        assert edged.headers.get(name) == alone.headers.get(name), name
    assert edged.content == alone.content
    for name in ("x-accel-redirect", "x-basalt-accel-range", "last-modified", "x-sendfile-type"):
        assert name not in edged.headers, name
    assert edged.headers.get("x-request-id")


def test_basalt_hands_a_checked_download_to_the_proxy_only_when_the_proxy_asks(edge):
    web, proxy, project, files = edge
    data = os.urandom(3 * 1024 * 1024 + 7)
    file_id = _stored(edge, data)
    path = f"/api/v1/files/{file_id}/content"
    handed = httpx.get(
        web.url + path, headers={"X-API-Key": project.secret, "X-Sendfile-Type": "X-Accel-Redirect"}, timeout=60
    )
    assert handed.status_code == 200 and handed.content == b""
    location = handed.headers["x-accel-redirect"]
    assert location.startswith(front.ACCEL_PREFIX + "/p")
    assert (files / location.removeprefix(front.ACCEL_PREFIX + "/")).read_bytes() == data
    assert handed.headers["x-basalt-accel-range"] == ""
    # Without the proxy's word the same process sends the bytes itself.
    alone = httpx.get(web.url + path, headers={"X-API-Key": project.secret}, timeout=60)
    assert alone.content == data and "x-accel-redirect" not in alone.headers


def test_a_whole_download_through_caddy_is_basalt_s_answer(edge):
    _, _, project, _ = edge
    data = os.urandom(3 * 1024 * 1024 + 7)
    path = f"/api/v1/files/{_stored(edge, data)}/content"
    edged, alone = _both(edge, "GET", path, project.secret)
    _assert_same(edged, alone)
    assert edged.status_code == 200 and edged.content == data
    assert edged.headers["content-disposition"].startswith("attachment;")


@pytest.mark.parametrize(
    ("range_", "status"),
    [
        ("bytes=0-99", 206),
        ("bytes=1048570-", 206),
        ("bytes=-300", 206),
        ("bytes=5-2", 200),  # malformed: Basalt serves the whole (a file server would 416)
        ("bytes=0-0,5-6", 200),  # multi-range: whole, not multipart/byteranges
        ("items=0-5", 200),
        ("bytes=999999999-", 416),
        ("bytes=-0", 416),
    ],
)
def test_ranges_through_caddy_are_decided_by_basalt(edge, range_, status):
    _, _, project, _ = edge
    data = os.urandom(2 * 1024 * 1024)
    path = f"/api/v1/files/{_stored(edge, data)}/content"
    edged, alone = _both(edge, "GET", path, project.secret, Range=range_)
    _assert_same(edged, alone)
    assert edged.status_code == status
    if status == 416:
        assert edged.json()["error"]["code"] and edged.headers["content-range"] == f"bytes */{len(data)}"


def test_if_range_head_and_conditions_through_caddy_are_basalt_s(edge):
    _, _, project, _ = edge
    data = os.urandom(1024 * 1024)
    path = f"/api/v1/files/{_stored(edge, data)}/content"
    tag = _both(edge, "HEAD", path, project.secret)[1].headers["etag"]
    cases = [
        {"Range": "bytes=10-19", "If-Range": tag},  # 206
        {"Range": "bytes=10-19", "If-Range": '"another"'},  # the whole file
        {"If-None-Match": tag},  # 304 from Basalt, not from Caddy
        {"If-None-Match": '"another"'},
        # Conditions Basalt does not evaluate must not be evaluated by the file server either.
        {"If-Modified-Since": "Tue, 01 Jan 2999 00:00:00 GMT"},
        {"If-Match": '"another"'},
        {"If-Unmodified-Since": "Mon, 01 Jan 1990 00:00:00 GMT"},
    ]
    for headers in cases:
        for method in ("GET", "HEAD"):
            edged, alone = _both(edge, method, path, project.secret, **headers)
            _assert_same(edged, alone)
            if method == "HEAD":
                assert edged.content == b""
    assert _both(edge, "GET", path, project.secret, **{"If-None-Match": tag})[0].status_code == 304
    head = _both(edge, "HEAD", path, project.secret, Range="bytes=0-9")[0]
    assert head.status_code == 206 and head.headers["content-length"] == "10"


def test_small_files_and_cached_thumbnails_through_caddy_are_basalt_s_whole_answers(edge):
    """Below serving.WHOLE_BODY Basalt answers with the bytes even when Caddy asks for a hand-over
    (one read, no second request inside Caddy); a Range on the same file is still handed over."""
    web, _, project, _ = edge
    image = images.png(300, 200)
    assert len(image) < WHOLE_BODY
    path = f"/api/v1/files/{_stored(edge, image, 'small.png')}/content"
    for query in ("", "?thumb=128x128", "?thumb=128x128&fit=contain"):
        tag = None
        for _ in range(2):  # rendered (or read), then kept in memory
            edged, alone = _both(edge, "GET", path + query, project.secret)
            _assert_same(edged, alone)
            assert edged.status_code == 200 and edged.content and edged.headers["content-type"] == "image/png"
            assert edged.headers["content-disposition"].startswith("inline;")
            tag = tag or edged.headers["etag"]
            assert edged.headers["etag"] == tag
        asked = httpx.get(
            web.url + path + query,
            headers={"X-API-Key": project.secret, "X-Sendfile-Type": "X-Accel-Redirect", **PLAIN},
            timeout=30,
        )
        assert asked.content == edged.content and "x-accel-redirect" not in asked.headers
        for method in ("GET", "HEAD"):
            _assert_same(*_both(edge, method, path + query, project.secret, **{"If-None-Match": tag}))
    ranged = httpx.get(
        web.url + path,
        headers={"X-API-Key": project.secret, "X-Sendfile-Type": "X-Accel-Redirect", "Range": "bytes=0-9"},
        timeout=30,
    )
    assert ranged.status_code == 206 and ranged.content == b"" and ranged.headers["x-basalt-accel-range"] == "bytes=0-9"
    edged, alone = _both(edge, "GET", path, project.secret, Range="bytes=0-9")
    _assert_same(edged, alone)
    assert edged.content == image[:10]


def test_unreadable_files_answer_basalt_s_json_unchanged(edge):
    web, proxy, project, _ = edge
    path = f"/api/v1/files/{_stored(edge, os.urandom(1024 * 1024))}/content"
    other = live.make_project(proxy.url, "Other")
    for key in (other.secret, project.publishable, "pk_unknown", None):
        edged, alone = _both(edge, "GET", path, key)
        assert edged.status_code in (401, 403, 404), edged.status_code
        _assert_same(edged, alone)
        assert edged.json()["error"]["code"]
    # A signed URL works through Caddy, a tampered one is Basalt's 403.
    minted = httpx.post(
        f"{proxy.url}/api/v1/files/{path.split('/')[4]}/url", headers={"X-API-Key": project.secret}, timeout=30
    )
    url = minted.json()["url"]
    signed = url[url.index("/api/") :]
    edged, alone = _both(edge, "GET", signed)
    _assert_same(edged, alone)
    assert edged.status_code == 200
    edged, alone = _both(edge, "GET", signed[:-2] + ("aa" if not signed.endswith("aa") else "bb"))
    _assert_same(edged, alone)
    assert edged.status_code == 403


def test_the_internal_prefix_cannot_be_asked_for_from_outside(edge):
    web, proxy, project, files = edge
    data = os.urandom(1024 * 1024)
    file_id = _stored(edge, data)
    stored = next(files.rglob(f"{file_id}/original")).relative_to(files).as_posix()
    secret = (files.parent / "secret_key").read_bytes()
    probes = [
        f"{front.ACCEL_PREFIX}/{stored}",
        f"{front.ACCEL_PREFIX}/../secret_key",
        f"/{stored}",
        f"/api/v1/files/../..{front.ACCEL_PREFIX}/{stored}",
        f"/api/v1/files/{file_id}/..%2F..%2F..%2F..{front.ACCEL_PREFIX}/{stored}",
    ]
    with httpx.Client(timeout=30) as http:
        for probe in probes:
            for headers in ({}, {"X-API-Key": project.secret}, {"X-Accel-Redirect": f"{front.ACCEL_PREFIX}/{stored}"}):
                answer = http.get(proxy.url + probe, headers={**PLAIN, **headers})
                assert answer.status_code in (400, 401, 404), (probe, answer.status_code)
                assert answer.content != data and secret not in answer.content
                assert "x-accel-redirect" not in answer.headers
        # A client's own X-Sendfile-Type is replaced by the proxy's, never trusted as something else.
        answer = http.get(
            f"{proxy.url}/api/v1/files/{file_id}/content",
            headers={**PLAIN, "X-API-Key": project.secret, "X-Sendfile-Type": "X-Sendfile"},
        )
        assert answer.content == data


def test_a_file_gone_between_the_check_and_the_send_is_a_json_404(edge):
    _, proxy, project, files = edge
    file_id = _stored(edge, os.urandom(1024 * 1024))
    next(files.rglob(f"{file_id}/original")).unlink()  # the row stays: Basalt's checks pass
    answer = httpx.get(
        f"{proxy.url}/api/v1/files/{file_id}/content", headers={**PLAIN, "X-API-Key": project.secret}, timeout=30
    )
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "not_found"
    assert answer.headers["content-type"] == "application/json" and answer.headers.get("x-request-id")
    assert "content-disposition" not in answer.headers and "etag" not in answer.headers
    # Deleted through the API: Basalt's own 404, before any hand-over.
    file_id = _stored(edge, os.urandom(1024 * 1024))
    assert httpx.delete(f"{proxy.url}/api/v1/files/{file_id}", headers={"X-API-Key": project.secret}).status_code == 204
    edged, alone = _both(edge, "GET", f"/api/v1/files/{file_id}/content", project.secret)
    _assert_same(edged, alone)
    assert edged.status_code == 404


@pytest.mark.parametrize(
    "name", ["../../secret_key", "..%2F..%2Fsecret_key", "a/../../b.bin", "/etc/passwd", "..\\..\\x"]
)
def test_hostile_names_are_served_as_their_own_bytes_from_inside_the_folder(edge, name):
    _, _, project, _ = edge
    data = os.urandom(512 * 1024)
    path = f"/api/v1/files/{_stored(edge, data, name)}/content"
    edged, alone = _both(edge, "GET", path, project.secret)
    _assert_same(edged, alone)
    assert edged.content == data


def test_compressible_files_keep_their_bytes_through_caddy_s_encoding(edge):
    _, _, project, _ = edge
    data = b"line of plain text\n" * 40_000
    path = f"/api/v1/files/{_stored(edge, data, 'notes.txt')}/content"
    edged, alone = _both(edge, "GET", path, project.secret, **{"Accept-Encoding": "gzip"})
    assert edged.status_code == alone.status_code == 200
    assert edged.content == alone.content == data  # httpx decodes what Caddy compressed
    assert edged.headers["content-type"] == alone.headers["content-type"]


class _Hostile(http.server.BaseHTTPRequestHandler):
    """An upstream naming whatever file the test asks for: what Caddy does with a bad X-Accel-Redirect."""

    protocol_version = "HTTP/1.1"

    def do_GET(self):  # noqa: N802 (http.server's name)
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("ETag", '"x"')
        if "X-Target" in self.headers:  # (not the readiness probe)
            self.send_header("X-Accel-Redirect", self.headers["X-Target"])
            self.send_header("X-Basalt-Accel-Range", "")
        self.send_header("X-Seen-Sendfile-Type", self.headers.get("X-Sendfile-Type", ""))
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def test_caddy_never_sends_a_file_outside_the_folder_whatever_it_is_told(tmp_path):
    if front.caddy_binary() is None:
        pytest.skip("caddy is not installed")
    files = tmp_path / "data" / "files"
    (files / "p1" / "f").mkdir(parents=True)
    (files / "p1" / "f" / "original").write_bytes(b"inside")
    (tmp_path / "data" / "secret_key").write_bytes(b"outside-secret")
    upstream = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hostile)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    proxy = front.start_caddy(tmp_path / "caddy", upstream.server_address[1], files)
    try:
        prefix = front.ACCEL_PREFIX
        with httpx.Client(timeout=30) as http_client:

            def told(target: str) -> httpx.Response:
                return http_client.get(proxy.url + "/api/v1/files/x/content", headers={"X-Target": target})

            assert told(f"{prefix}/p1/f/original").content == b"inside"
            # The proxy announces itself on every request, over whatever a client claimed.
            seen = http_client.get(proxy.url + "/api/v1/project", headers={"X-Sendfile-Type": "X-Sendfile"})
            assert seen.headers["x-seen-sendfile-type"] == "X-Accel-Redirect"
            for target in (
                f"{prefix}/../secret_key",
                f"{prefix}/%2e%2e/secret_key",
                f"{prefix}/..%2fsecret_key",
                f"{prefix}/p1/f/../../../secret_key",
                f"{prefix}//{tmp_path}/data/secret_key",
                f"/../../{tmp_path}/data/secret_key",
                f"{prefix}/p1/f/",
                f"{prefix}/p1/",
                "/secret_key",
            ):
                answer = told(target)
                assert answer.status_code == 404, (target, answer.status_code)
                assert b"outside-secret" not in answer.content and answer.json()["error"]["code"] == "not_found"
    finally:
        front.stop(proxy)
        upstream.shutdown()
        upstream.server_close()


def test_the_shipped_caddyfile_serves_what_compose_mounts():
    """The proxy mounts basalt-data read-only where the Caddyfile's root points, and web sets the prefix."""
    import yaml

    compose = yaml.safe_load((front.ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert "basalt-data:/srv/basalt-data:ro" in services["proxy"]["volumes"]
    assert "root * /srv/basalt-data/files" in front.CADDYFILE.read_text()
    assert services["web"]["environment"]["FILES_ACCEL_REDIRECT"].endswith(f"-{front.ACCEL_PREFIX}}}")
    assert "FILES_ACCEL_REDIRECT" not in services["realtime"]["environment"]
    assert Path(front.CADDYFILE).read_text().count(f"uri strip_prefix {front.ACCEL_PREFIX}") == 1
