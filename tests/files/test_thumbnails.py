"""Thumbnails: project sizes only, cover/contain, EXIF orientation applied, metadata gone, bombs refused."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from rest_framework.test import APIClient

from basalt.files.models import Thumbnail
from tests.files import images
from tests.files.conftest import upload
from tests.files.images import png

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def sizes(project):
    from basalt.projects.project_settings import update_settings

    update_settings(project.project, {"files": {"thumbnail_sizes": ["16x16", "20x10"]}})


def thumb(client, stored, spec="16x16", fit="cover"):
    answer = client.get(f"{stored['url']}?thumb={spec}&fit={fit}")
    body = b"".join(answer.streaming_content) if answer.streaming else answer.content
    return answer, body


@pytest.mark.parametrize(
    ("maker", "content_type"),
    [(images.png, "image/png"), (images.webp, "image/webp"), (images.gif_two_frames, "image/png")],
)
def test_thumbnail_formats(secret_client, maker, content_type):
    stored = upload(secret_client, maker(), name="i").json()
    answer, body = thumb(secret_client, stored)
    assert answer.status_code == 200, answer.content
    assert answer["Content-Type"] == content_type
    with Image.open(io.BytesIO(body)) as image:
        assert image.size == (16, 16)


def test_gif_thumbnail_is_the_first_frame(secret_client):
    stored = upload(secret_client, images.gif_two_frames(), name="anim.gif").json()
    _, body = thumb(secret_client, stored)
    with Image.open(io.BytesIO(body)) as image:
        red, green, blue = image.convert("RGB").getpixel((8, 8))[:3]
    assert red > 200 and blue < 50


def test_exif_orientation_is_applied_and_metadata_stripped(secret_client):
    source = images.jpeg_with_exif(width=40, height=20, orientation=6)
    assert b"secret location" in source
    stored = upload(secret_client, source, name="photo.jpg").json()
    answer, body = thumb(secret_client, stored, "20x10", "contain")
    assert answer["Content-Type"] == "image/jpeg"
    with Image.open(io.BytesIO(body)) as image:
        # 40x20 rotated by EXIF is 20x40 portrait; contained in 20x10 → 5x10
        assert image.size == (5, 10)
        assert not image.getexif()
    assert b"secret location" not in body


def test_generated_once_and_kept(secret_client):
    stored = upload(secret_client, images.png(50, 50), name="p.png").json()
    first, body = thumb(secret_client, stored)
    second, again = thumb(secret_client, stored)
    assert body == again
    assert Thumbnail.objects.filter(file_id=stored["id"], spec="16x16-cover").count() == 1
    cached = secret_client.get(f"{stored['url']}?thumb=16x16", HTTP_IF_NONE_MATCH=first["ETag"])
    assert cached.status_code == 304


def test_sizes_outside_the_projects_list_are_refused(secret_client):
    stored = upload(secret_client, images.png(), name="p.png").json()
    for spec in ("17x17", "0x0", "abc", "99999x99999", "16x16&fit=stretch"):
        answer = secret_client.get(f"{stored['url']}?thumb={spec}")
        assert answer.status_code == 400, spec
        assert answer.json()["error"]["code"] == "validation_failed"


def test_non_images_and_bombs_are_refused_cleanly(secret_client):
    text = upload(secret_client, b"hello", name="t.txt").json()
    answer = secret_client.get(f"{text['url']}?thumb=16x16")
    assert answer.status_code == 422
    # past our limit (50 Mpx) and past Pillow's own bomb limit (~179 Mpx): both refused by the header
    for side in (8000, 20000):
        bomb = upload(secret_client, images.png_bomb_header(side, side), name="bomb.png").json()
        assert bomb["content_type"] == "image/png" and bomb["size"] < 100_000
        answer = secret_client.get(f"{bomb['url']}?thumb=16x16")
        assert answer.status_code == 422
        assert "pixels" in answer.json()["error"]["message"]


def test_a_jpeg_declaring_too_many_pixels_is_refused_from_its_header(secret_client):
    bomb = upload(secret_client, images.jpeg_declaring(10_000, 6_000), name="bomb.jpg").json()
    assert bomb["content_type"] == "image/jpeg"
    answer = secret_client.get(f"{bomb['url']}?thumb=16x16")
    assert answer.status_code == 422
    assert "pixels" in answer.json()["error"]["message"]


@pytest.mark.parametrize(("spec", "fit"), [("16x16", "cover"), ("20x10", "contain")])
def test_a_large_photo_is_rotated_sized_and_stripped(secret_client, spec, fit):
    """The reduced JPEG decode keeps what the full one gave: the asked size, the EXIF rotation
    (orientation 6: the top band ends on the right), no metadata."""
    source = images.banded_photo(2400, 1600, orientation=6)
    stored = upload(secret_client, source, name="photo.jpg").json()
    answer, body = thumb(secret_client, stored, spec, fit)
    assert answer.status_code == 200, answer.content
    assert b"secret location" not in body
    with Image.open(io.BytesIO(body)) as image:
        assert not image.getexif()
        # 1600x2400 once rotated: cover crops to 16x16, contain fits it in 20x10 → 7x10 (rounded)
        assert image.size == ((16, 16) if fit == "cover" else (7, 10))
        rgb = image.convert("RGB")
        right, left = rgb.getpixel((image.width - 1, image.height // 2)), rgb.getpixel((0, image.height // 2))
    assert right[0] > 150 and right[2] < 100  # red: the band that was on top
    assert left[2] > 150 and left[0] < 100  # blue


def test_a_wide_png_cover_keeps_the_centre(secret_client):
    """A large PNG (no reduced decode) is box-reduced before LANCZOS; cover still crops the centre."""
    from PIL import Image as PILImage

    image = PILImage.new("RGB", (1600, 400), (255, 0, 0))
    image.paste((0, 200, 0), (600, 0, 1000, 400))
    out = io.BytesIO()
    image.save(out, "PNG")
    stored = upload(secret_client, out.getvalue(), name="wide.png").json()
    answer, body = thumb(secret_client, stored, "16x16", "cover")
    assert answer.status_code == 200
    with Image.open(io.BytesIO(body)) as made:
        assert made.size == (16, 16)
        assert all(made.convert("RGB").getpixel((x, 8))[1] > 150 for x in (1, 8, 14))


def test_project_sizes_are_made_in_the_background_on_upload(secret_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        stored = upload(secret_client, images.png(64, 32), name="bg.png").json()
    specs = set(Thumbnail.objects.filter(file_id=stored["id"]).values_list("spec", flat=True))
    assert specs == {"16x16-cover", "20x10-cover"}


def test_thumbnail_needs_read_access(user_of):
    alice, _ = user_of("alice@example.com")
    bob, _ = user_of("bob@example.com")
    stored = upload(alice, images.png(), name="p.png").json()
    assert bob.get(f"{stored['url']}?thumb=16x16").status_code == 404
    assert thumb(alice, stored)[0].status_code == 200


@pytest.mark.parametrize(
    "body, field",
    [
        ({"thumb": "999x999"}, "thumb"),  # not one of the project's sizes
        ({"thumb": "16x16", "fit": "stretch"}, "thumb"),
        ({"thumb": "abc"}, "thumb"),
        ({"fit": "cover"}, "fit"),
        ({"thumb": 16}, "thumb"),
        ({"thumb": "16x16", "fit": ["cover"]}, "fit"),
    ],
)
def test_signed_url_refuses_what_the_content_route_refuses(secret_client, body, field):
    """One check (thumbs.check_spec) for both routes: no signed URL is minted that its content
    route would answer with a 400, and the content route gives the same 400."""
    stored = upload(secret_client, png(), name="p.png", content_type="image/png").json()
    minted = secret_client.post(f"/api/v1/files/{stored['id']}/url", body, format="json")
    assert minted.status_code == 400, minted.content
    assert field in minted.json()["error"]["details"]
    if all(isinstance(value, str) for value in body.values()):
        query = "&".join(f"{name}={value}" for name, value in body.items())
        direct = secret_client.get(f"{stored['url']}?{query}")
        assert direct.status_code == 400 and field in direct.json()["error"]["details"], direct.content


def test_signed_thumbnail_url_serves_the_thumbnail(secret_client):
    stored = upload(secret_client, png(), name="p.png", content_type="image/png").json()
    minted = secret_client.post(
        f"/api/v1/files/{stored['id']}/url", {"thumb": "16x16", "fit": "contain"}, format="json"
    ).json()
    assert minted["url"].endswith("&thumb=16x16&fit=contain")
    answer = APIClient().get(minted["url"])
    assert answer.status_code == 200 and answer["Content-Type"].startswith("image/")
