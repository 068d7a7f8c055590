"""Thumbnails rendered from one file at the same moment share one fetch and decode of it
(files/sources.py), and a fresh thumbnail is served from the bytes just rendered (thumbs.py)."""

from __future__ import annotations

import hashlib
import io
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from PIL import Image

from basalt.files import kept, sources, thumbs
from basalt.files.models import Thumbnail
from tests.files import images
from tests.files.conftest import content_of, upload


def test_overlapping_users_share_one_load_and_nothing_is_held_after():
    loads: list[int] = []
    started, release = threading.Event(), threading.Event()

    def load():
        loads.append(1)
        started.set()
        assert release.wait(10)
        return object()

    def use() -> object:
        with sources.decoded("p1/f/original", 256, load) as value:
            return value

    with ThreadPoolExecutor(4) as pool:
        first = pool.submit(use)
        assert started.wait(10)
        others = [pool.submit(use) for _ in range(3)]
        while sources._flights[("p1/f/original", 256)].users < 4:
            threading.Event().wait(0.005)
        release.set()
        values = {id(f.result()) for f in [first, *others]}
    assert loads == [1] and len(values) == 1
    assert sources.in_progress() == 0


def test_a_failed_load_is_raised_to_every_user_and_the_next_one_loads_again():
    started, release = threading.Event(), threading.Event()

    def failing():
        started.set()
        assert release.wait(10)
        raise thumbs.NotThumbnailable("The image cannot be decoded (OSError).")

    def use(load):
        with sources.decoded("p1/g/original", 64, load) as value:
            return value

    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(use, failing)
        assert started.wait(10)
        second = pool.submit(use, failing)
        while sources._flights[("p1/g/original", 64)].users < 2:
            threading.Event().wait(0.005)
        release.set()
        for future in (first, second):
            with pytest.raises(thumbs.NotThumbnailable):
                future.result()
    assert sources.in_progress() == 0
    assert use(lambda: "fresh") == "fresh"
    # Different decode sizes are different sources.
    with sources.decoded("p1/g/original", 64, lambda: "a") as small:
        with sources.decoded("p1/g/original", 128, lambda: "b") as large:
            assert (small, large) == ("a", "b")


def test_renders_from_a_shared_source_leave_it_unchanged():
    """Pillow's thumbnail() resizes in place: `contain` must not use it on a shared source, or the
    render beside it would see a thumbnail instead of the photo."""
    source = thumbs.decode(images.banded_photo(2400, 1600, orientation=6), 64)
    before = (source.size, hashlib.sha256(source.tobytes()).hexdigest())
    contained, _ = thumbs.render(source, 64, 64, "contain", "image/jpeg")
    covered, _ = thumbs.render(source, 64, 64, "cover", "image/jpeg")
    assert (source.size, hashlib.sha256(source.tobytes()).hexdigest()) == before
    fresh = thumbs.decode(images.banded_photo(2400, 1600, orientation=6), 64)
    assert thumbs.render(fresh, 64, 64, "cover", "image/jpeg")[0] == covered
    with Image.open(io.BytesIO(contained)) as image:
        assert max(image.size) == 64
    # The same pixels as Pillow's thumbnail() on a copy (lossless output to compare them).
    lossless, _ = thumbs.render(source, 64, 64, "contain", "image/png")
    expected = source.copy()
    expected.thumbnail((64, 64), Image.Resampling.LANCZOS, reducing_gap=2.0)
    with Image.open(io.BytesIO(lossless)) as image:
        assert image.convert("RGB").tobytes() == expected.convert("RGB").tobytes()


@pytest.mark.django_db
def test_a_first_thumbnail_is_served_without_reading_it_back(secret_client, file_storage, project, monkeypatch):
    from basalt.projects.project_settings import update_settings

    update_settings(project.project, {"files": {"thumbnail_sizes": ["16x16"]}})
    kept.clear()
    stored = upload(secret_client, images.png(64, 64), name="p.png").json()
    kept.clear()  # the background render of the project size kept its bytes: start from none
    reads: list[str] = []
    real_read = file_storage.read
    monkeypatch.setattr(file_storage, "read", lambda key, *a, **k: reads.append(key) or real_read(key, *a, **k))
    answer = secret_client.get(f"{stored['url']}?thumb=16x16&fit=contain")
    assert answer.status_code == 200
    assert [key.rsplit("/", 1)[1] for key in reads] == ["original"]
    # The bytes served are the ones stored.
    made = Thumbnail.objects.get(file_id=stored["id"], spec="16x16-contain")
    assert content_of(answer) == b"".join(real_read(made.storage_key))
    kept.clear()


@pytest.mark.parametrize("source", [(1600, 2400), (2400, 1600), (4000, 3000), (333, 1000), (17, 3), (5000, 7)])
@pytest.mark.parametrize("box", [(20, 10), (256, 256), (128, 128), (16, 16)])
def test_contain_gives_the_size_pillow_thumbnail_gives(source, box):
    image = Image.new("RGB", source)
    expected = image.copy()
    expected.thumbnail(box)
    assert (thumbs.contained_size(*source, *box) or source) == expected.size
