"""Downloads: Range (206/416), ETag/304, safe serving of executable types (SECURITY.md T10)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.files.conftest import content_of, upload
from tests.files.images import png

pytestmark = pytest.mark.django_db
DATA = bytes(range(256)) * 4  # 1024 bytes


@pytest.fixture
def stored(secret_client):
    body = upload(secret_client, DATA, name="data.bin").json()
    return body


def content(client, url, **headers):
    answer = client.get(url, **headers)
    body = b"".join(answer.streaming_content) if answer.streaming else answer.content
    return answer, body


def test_single_range_answers_206(secret_client, stored):
    answer, body = content(secret_client, stored["url"], HTTP_RANGE="bytes=100-199")
    assert answer.status_code == 206
    assert body == DATA[100:200]
    assert answer["Content-Range"] == "bytes 100-199/1024"
    assert answer["Content-Length"] == "100"


@pytest.mark.parametrize(
    ("header", "expected"),
    [("bytes=1000-", DATA[1000:]), ("bytes=-24", DATA[-24:]), ("bytes=1000-99999", DATA[1000:])],
)
def test_open_and_suffix_ranges(secret_client, stored, header, expected):
    answer, body = content(secret_client, stored["url"], HTTP_RANGE=header)
    assert answer.status_code == 206 and body == expected


@pytest.mark.parametrize("header", ["bytes=5000-6000", "bytes=5000-", "bytes=1024-"])
def test_range_past_the_end_is_416_json(secret_client, stored, header):
    answer = secret_client.get(stored["url"], HTTP_RANGE=header)
    assert answer.status_code == 416
    assert answer.json()["error"]["code"] == "range_not_satisfiable"
    assert answer["Content-Range"] == "bytes */1024"


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(
    header=st.one_of(st.text(max_size=40), st.from_regex(r"bytes=\d{0,25}-\d{0,25}(,\d{0,5}-\d{0,5})?", fullmatch=True))
)
def test_range_fuzzing_never_breaks(secret_client, stored, header):
    """Any Range header: 200 with everything, 206 with the right slice, or a JSON 416; never a 5xx."""
    try:
        answer = secret_client.get(stored["url"], HTTP_RANGE=header)
    except ValueError:
        return  # the test client itself refuses header values with newlines
    assert answer.status_code in (200, 206, 416), answer.status_code
    if answer.status_code == 416:
        assert answer.json()["error"]["code"] == "range_not_satisfiable"
        return
    body = content_of(answer)
    if answer.status_code == 200:
        assert body == DATA
    else:
        first, last = answer["Content-Range"].split(" ")[1].split("/")[0].split("-")
        assert body == DATA[int(first) : int(last) + 1]


def test_etag_and_304(secret_client, stored):
    answer, _ = content(secret_client, stored["url"])
    tag = answer["ETag"]
    assert tag == f'"{stored["sha256"]}"'
    again = secret_client.get(stored["url"], HTTP_IF_NONE_MATCH=tag)
    assert again.status_code == 304
    assert secret_client.get(stored["url"], HTTP_IF_NONE_MATCH='"other"').status_code == 200


@pytest.mark.parametrize(
    ("data", "name", "declared"),
    [
        (b"<html><script>alert(document.cookie)</script>", "a.html", "text/html"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "a.svg.", "image/svg+xml"),
        (b'<?xml version="1.0"?><x/>', "a.xml", "application/xml"),
        (b"alert(1)", "a.js", "application/javascript"),
        (b"<html>", "a.png%00.html", "text/plain"),
        (b"\x00\x01binary", "x", "application/octet-stream"),
    ],
)
def test_executable_types_are_attachments_with_nosniff_and_sandbox(secret_client, data, name, declared):
    stored = upload(secret_client, data, name=name, content_type=declared).json()
    answer = secret_client.get(stored["url"])
    assert answer.status_code == 200
    assert answer["Content-Disposition"].startswith("attachment;")
    assert answer["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in answer["Content-Security-Policy"]
    assert answer["Content-Type"] not in ("text/html", "image/svg+xml") or "attachment" in answer["Content-Disposition"]


def test_images_are_inline_but_still_sandboxed(secret_client):
    stored = upload(secret_client, png(), name="p.png").json()
    answer = secret_client.get(stored["url"])
    assert answer["Content-Type"] == "image/png"
    assert answer["Content-Disposition"].startswith("inline;")
    assert answer["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in answer["Content-Security-Policy"]


def test_unicode_name_in_content_disposition(secret_client):
    stored = upload(secret_client, b"x", name='r%C3%A9sum%C3%A9 "1".txt').json()
    answer = secret_client.get(stored["url"])
    assert "filename*=UTF-8''r%C3%A9sum%C3%A9%20%221%22.txt" in answer["Content-Disposition"]
    assert 'filename="r_sum_ _1_.txt"' in answer["Content-Disposition"]
