"""Zips of images (stylegan2-ada's dataset format): same pixels as the folder, sorted members, the cache."""

import json
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from wganlab.config import DataConfig
from wganlab.data.decode import decode_image
from wganlab.data.images import load_image_array
from wganlab.data.sources import zip as archive_module
from wganlab.data.sources.folder import load_folder
from wganlab.errors import DataError


def noise(width: int, height: int, seed: int) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8))


def make_dataset(folder: Path, count: int = 5) -> Path:
    """stylegan2-ada's layout, as its dataset_tool writes it: 00000/img00000000.png ... plus dataset.json."""
    for index in range(count):
        path = folder / f"{index // 3:05d}" / f"img{index:08d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        noise(24 + index, 20, index).save(path)
    (folder / "dataset.json").write_text(json.dumps({"labels": None}))
    return folder


def zip_folder(folder: Path, path: Path, extra: dict[str, bytes] | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for file in sorted(folder.rglob("*"), reverse=True):  # stored out of order: loading sorts the names
            if file.is_file():
                archive.write(file, file.relative_to(folder).as_posix())
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return path


def config(path: Path, **kwargs) -> DataConfig:
    return DataConfig(source="zip", path=str(path), **{"image_size": 16, **kwargs})


def test_a_zip_gives_the_pixels_of_the_same_folder(tmp_path):
    folder = make_dataset(tmp_path / "set")
    extra = {"__MACOSX/00000/._img00000000.png": b"resource fork", ".hidden.png": b"x", "notes.txt": b"text"}
    path = zip_folder(folder, tmp_path / "set.zip", extra)
    from_zip = load_image_array(config(path), progress=False)
    assert (from_zip.shape, from_zip.dtype) == ((5, 3, 16, 16), np.uint8)
    np.testing.assert_array_equal(from_zip, load_folder(DataConfig(source="folder", path=str(folder), image_size=16)))
    # sorted by member name: the first image is 00000/img00000000.png, decoded as a folder decodes it
    np.testing.assert_array_equal(from_zip[0], decode_image(folder / "00000" / "img00000000.png", 16, 3))
    np.testing.assert_array_equal(from_zip[4], decode_image(folder / "00001" / "img00000004.png", 16, 3))


def test_second_load_is_a_cache_hit_and_a_new_zip_rebuilds(tmp_path, monkeypatch):
    path = zip_folder(make_dataset(tmp_path / "set"), tmp_path / "set.zip")
    cache_dir = tmp_path / "cache"
    first = np.array(load_image_array(config(path, cache_dir=str(cache_dir)), progress=False))
    assert sorted(p.suffix for p in cache_dir.iterdir()) == [".json", ".npy"]

    def refuse(*args, **kwargs):
        raise AssertionError("decoded again despite a valid cache")

    monkeypatch.setattr(archive_module, "decode_image", refuse)
    np.testing.assert_array_equal(load_image_array(config(path, cache_dir=str(cache_dir)), progress=False), first)
    monkeypatch.undo()
    zip_folder(make_dataset(tmp_path / "bigger", count=6), path)
    os.utime(path, ns=(1, 1))
    assert load_image_array(config(path, cache_dir=str(cache_dir)), progress=False).shape[0] == 6


def test_native_size_and_channels(tmp_path):
    folder = tmp_path / "same"
    folder.mkdir()
    for index in range(3):
        noise(12, 10, index).convert("L").save(folder / f"{index}.png")
    path = zip_folder(folder, tmp_path / "same.zip")
    images = load_image_array(config(path, image_size=0, channels=1), progress=False)
    assert images.shape == (3, 1, 10, 12)
    np.testing.assert_array_equal(images[2, 0], np.asarray(Image.open(folder / "2.png")))
    noise(9, 9, 5).save(folder / "3.png")
    with pytest.raises(DataError, match="differ in size.*set data.image_size"):
        load_image_array(config(zip_folder(folder, tmp_path / "mixed.zip"), image_size=0), progress=False)


def test_unreadable_members_are_skipped_with_a_warning_or_refused_under_strict(tmp_path):
    path = zip_folder(make_dataset(tmp_path / "set"), tmp_path / "set.zip", {"zz/broken.png": b"not a png"})
    with pytest.warns(UserWarning, match="skipped 1 of 6 unreadable images .*zz/broken.png"):
        assert load_image_array(config(path), progress=False).shape[0] == 5
    with pytest.raises(DataError, match="1 of 6 images .* are unreadable: .*zz/broken.png"):
        load_image_array(config(path, strict=True), progress=False)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda tmp: tmp / "absent.zip", "does not exist"),
        (lambda tmp: tmp, "is a folder; use data.source='folder'"),
        (lambda tmp: (tmp / "fake.zip").write_bytes(b"plain bytes") and tmp / "fake.zip", "is not a zip archive"),
    ],
)
def test_bad_paths_are_named(tmp_path, make, message):
    with pytest.raises(DataError, match=message):
        load_image_array(config(make(tmp_path)), progress=False)


def test_a_zip_without_images(tmp_path):
    path = tmp_path / "text.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "no pictures")
    with pytest.raises(DataError, match="no images"):
        load_image_array(config(path), progress=False)


def test_resume_and_seed_on_a_zip(tmp_path, resume_check, seed_check, make_batches):
    images = load_image_array(config(zip_folder(make_dataset(tmp_path / "set"), tmp_path / "s.zip")), progress=False)
    resume_check(make_batches(images), batch_size=3)
    seed_check(make_batches(images), batch_size=3)
