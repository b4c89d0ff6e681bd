"""Image folders: formats, resize + crop, the cache (hits, rebuilds, atomicity), unreadable files."""

import os
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from wganlab.config import DataConfig
from wganlab.data.decode import decode_image
from wganlab.data.images import load_image_array
from wganlab.data.sources import folder as folder_module
from wganlab.data.sources.folder import load_folder
from wganlab.errors import ConfigError, DataError


def noise(width: int, height: int, seed: int, mode: str = "RGB") -> Image.Image:
    channels = 3 if mode == "RGB" else 1
    array = np.random.default_rng(seed).integers(0, 256, (height, width, channels), dtype=np.uint8)
    return Image.fromarray(array if channels == 3 else array[..., 0], mode)


def make_folder(root: Path) -> Path:
    """Six images of every supported type, sizes and modes, two of them in a subfolder."""
    (root / "sub").mkdir(parents=True)
    noise(40, 30, 0).save(root / "a.png")
    noise(30, 40, 1).save(root / "b.jpg", quality=95)
    noise(32, 32, 2, "L").save(root / "c.bmp")
    noise(50, 20, 3).save(root / "sub" / "d.webp", lossless=True)
    noise(20, 20, 4).convert("P").save(root / "sub" / "e.gif")
    noise(16, 16, 5).save(root / "f.jpeg")
    (root / "notes.txt").write_text("not an image")
    return root


def config(root: Path, **kwargs) -> DataConfig:
    return DataConfig(source="folder", path=str(root), **{"image_size": 16, **kwargs})


def test_every_format_decodes_to_one_shape(tmp_path):
    images = load_image_array(config(make_folder(tmp_path / "set")), progress=False)
    assert (images.shape, images.dtype) == ((6, 3, 16, 16), np.uint8)
    assert isinstance(images, np.memmap)
    # sorted by relative path: a.png is first; it matches a direct decode
    np.testing.assert_array_equal(images[0], decode_image(tmp_path / "set" / "a.png", 16, 3))


def test_grayscale_channels(tmp_path):
    images = load_image_array(config(make_folder(tmp_path / "set"), channels=1), progress=False)
    assert images.shape == (6, 1, 16, 16)


def test_short_side_resize_then_centre_crop_by_hand(tmp_path):
    # 30 x 10 with a column ramp: the short side is already 10, so the crop keeps columns 10..19 exactly.
    ramp = np.tile(np.arange(30, dtype=np.uint8) * 8, (10, 1))
    Image.fromarray(ramp, "L").save(tmp_path / "ramp.png")
    np.testing.assert_array_equal(decode_image(tmp_path / "ramp.png", 10, 1)[0], ramp[:, 10:20])
    padded = decode_image(tmp_path / "ramp.png", 30, 1, fit="pad")[0]
    np.testing.assert_array_equal(padded[10:20], ramp)
    np.testing.assert_array_equal(padded[:10], np.zeros((10, 30), np.uint8))


def test_second_load_is_a_cache_hit(tmp_path, monkeypatch):
    root = make_folder(tmp_path / "set")
    cache_dir = tmp_path / "cache"
    first = np.array(load_folder(config(root, cache_dir=str(cache_dir)), progress=False))
    cache_files = sorted(p.name for p in cache_dir.iterdir())
    assert [name.rsplit(".", 1)[1] for name in cache_files] == ["json", "npy"]  # no temp files left

    def refuse(*args, **kwargs):
        raise AssertionError("decoded again despite a valid cache")

    monkeypatch.setattr(folder_module, "decode_image", refuse)
    np.testing.assert_array_equal(load_folder(config(root, cache_dir=str(cache_dir)), progress=False), first)


def test_changes_rebuild_the_cache(tmp_path):
    root = make_folder(tmp_path / "set")
    assert load_folder(config(root), progress=False).shape[0] == 6
    noise(20, 20, 9).save(root / "g.png")
    assert load_folder(config(root), progress=False).shape[0] == 7
    noise(20, 20, 10).save(root / "a.png")  # same name, new content (size and mtime change)
    os.utime(root / "a.png", ns=(1, 1))
    rebuilt = load_folder(config(root), progress=False)
    np.testing.assert_array_equal(rebuilt[0], decode_image(root / "a.png", 16, 3))
    assert load_folder(config(root, image_size=8), progress=False).shape == (7, 3, 8, 8)


def listing(root: Path) -> list[tuple[str, int, int]]:
    return sorted((str(p.relative_to(root)), p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*"))


def test_the_cache_lives_in_the_user_cache_or_cache_dir_never_in_the_dataset(tmp_path, isolated_user_cache):
    root = make_folder(tmp_path / "set")
    before = listing(root)
    default = load_folder(config(root), progress=False)
    assert Path(default.filename).parent == isolated_user_cache / "images"
    load_folder(config(root, cache_dir=str(tmp_path / "elsewhere")), progress=False)
    assert len(list((tmp_path / "elsewhere").glob("set-*.npy"))) == 1
    assert listing(root) == before  # the dataset folder is exactly as it was: it may be read-only or shared


def test_two_datasets_with_the_same_options_do_not_share_a_cache_entry(tmp_path):
    first, second = make_folder(tmp_path / "one" / "set"), tmp_path / "two" / "set"
    second.mkdir(parents=True)
    noise(16, 16, 7).save(second / "only.png")
    shared = str(tmp_path / "cache")
    assert load_folder(config(first, cache_dir=shared), progress=False).shape[0] == 6
    assert load_folder(config(second, cache_dir=shared), progress=False).shape[0] == 1
    assert load_folder(config(first, cache_dir=shared), progress=False).shape[0] == 6
    assert len(list(Path(shared).glob("*.npy"))) == 2


def test_corrupt_files_are_skipped_with_one_warning(tmp_path):
    root = make_folder(tmp_path / "set")
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    full = root / "truncated.png"
    noise(40, 40, 7).save(full)
    full.write_bytes(full.read_bytes()[:200])
    with pytest.warns(
        UserWarning,
        match=r"skipped 2 of 8 unreadable images .*broken.jpg \(OSError: .*\), truncated.png \(OSError: .*\)",
    ):
        images = load_folder(config(root), progress=False)
    assert images.shape == (6, 3, 16, 16)
    with pytest.warns(UserWarning, match="skipped 2 of 8"):  # the cache remembers what it skipped
        load_folder(config(root), progress=False)


def test_strict_refuses_corrupt_files(tmp_path):
    root = make_folder(tmp_path / "set")
    (root / "broken.jpg").write_bytes(b"garbage")
    with pytest.raises(
        DataError,
        match=r"1 of 7 images .* are unreadable: broken.jpg \(UnidentifiedImageError: .*\); remove them or set data",
    ):
        load_folder(config(root, strict=True), progress=False)


def test_decompression_bombs_count_as_unreadable(tmp_path, monkeypatch):
    root = make_folder(tmp_path / "set")
    # Pillow refuses images over 2 * MAX_IMAGE_PIXELS; at 500, 40x30 and 32x32 are bombs.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 500)
    warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # 50x20 is only over the warning limit
    with pytest.warns(
        UserWarning, match=r"skipped 3 of 6 .*a.png \(Decompression.*\), b.jpg \(Decomp.*\), c.bmp \(Decomp"
    ):
        assert load_folder(config(root), progress=False).shape[0] == 3


def test_native_size_needs_equal_sizes(tmp_path):
    root = tmp_path / "set"
    root.mkdir()
    for seed in range(3):
        noise(12, 10, seed).save(root / f"{seed}.png")
    assert load_folder(config(root, image_size=0), progress=False).shape == (3, 3, 10, 12)
    noise(11, 10, 5).save(root / "odd.png")
    with pytest.raises(DataError, match="differ in size .*set data.image_size"):
        load_folder(config(root, image_size=0), progress=False)


@pytest.mark.parametrize("setup", ["empty", "only_text"])
def test_folders_without_images(tmp_path, setup):
    root = tmp_path / "set"
    root.mkdir()
    if setup == "only_text":
        (root / "readme.txt").write_text("hi")
    with pytest.raises(DataError, match=r"no images \(.jpg.*\) found under .*set"):
        load_folder(config(root), progress=False)


def test_a_file_is_not_a_folder(tmp_path):
    noise(8, 8, 0).save(tmp_path / "one.png")
    with pytest.raises(DataError, match="one.png' is a file"):
        load_folder(config(tmp_path / "one.png"), progress=False)


def test_unwritable_cache_says_what_to_set(tmp_path):
    root = make_folder(tmp_path / "set")
    blocker = tmp_path / "blocked"
    blocker.write_text("a file where the cache folder should go")
    with pytest.raises(DataError, match="set data.cache_dir to a writable folder"):
        load_folder(config(root, cache_dir=str(blocker / "cache")), progress=False)


def test_resume_and_seed_on_a_folder(tmp_path, resume_check, seed_check, make_batches):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        images = load_image_array(config(make_folder(tmp_path / "set")), progress=False)
    resume_check(make_batches(images, flip=True), batch_size=4)
    resume_check(make_batches(images, flip=True, stream=True), batch_size=4)
    seed_check(make_batches(images), batch_size=4)


def test_data_fit_option_pads_or_crops_a_wide_image(tmp_path):
    from PIL import Image

    from wganlab.config import DataConfig
    from wganlab.data.images import load_image_array

    folder = tmp_path / "wide"
    folder.mkdir()
    Image.new("RGB", (40, 20), (255, 0, 0)).save(folder / "a.png")
    common = {"source": "folder", "path": str(folder), "image_size": 16, "channels": 3}
    cropped = load_image_array(DataConfig(**common, fit="crop"), progress=False)
    padded = load_image_array(DataConfig(**common, fit="pad", cache_dir=str(tmp_path / "c2")), progress=False)
    assert cropped.shape == padded.shape == (1, 3, 16, 16)
    assert (cropped[0, 0] == 255).all()  # the crop keeps only red
    assert (padded[0, 0, 0] != 255).all() and (padded[0, 0, 8] == 255).all()  # padded bands above, red middle


def test_16_bit_grayscale_pngs_are_scaled_to_8_bits_not_clipped(tmp_path):
    # v -> round(v / 257): 257 -> 1, 32896 = 128 * 257 -> 128, 65535 -> 255, 1000 -> 3.89 -> 4, 128 -> 0.498 -> 0,
    # 129 -> 0.502 -> 1, 65278 = 254 * 257 -> 254.
    values = np.array([[0, 257, 32896, 65535], [1000, 128, 129, 65278]], dtype=np.uint16)
    Image.fromarray(values).save(tmp_path / "deep.png")
    with Image.open(tmp_path / "deep.png") as image:
        assert image.mode == "I;16"  # what Pillow makes of a 16-bit grayscale PNG
    decoded = decode_image(tmp_path / "deep.png", 0, 1)[0]
    np.testing.assert_array_equal(decoded, [[0, 1, 128, 255], [4, 0, 1, 254]])
    rgb = decode_image(tmp_path / "deep.png", 0, 3)
    np.testing.assert_array_equal(rgb, np.repeat(decoded[None], 3, axis=0))


def test_a_16_bit_ramp_keeps_its_spread(tmp_path):
    # The case: a 16-bit photo came out 98% white. A full-range ramp must come out as a full 8-bit ramp.
    ramp = (np.arange(256 * 4, dtype=np.int64).reshape(32, 32) * 64).astype(np.uint16)
    Image.fromarray(ramp).save(tmp_path / "ramp.png")
    images = load_image_array(DataConfig(source="folder", path=str(tmp_path), channels=1), progress=False)
    assert (images == 255).mean() < 0.01
    np.testing.assert_array_equal(images[0, 0], (ramp.astype(np.int64) + 128) // 257)


@pytest.mark.parametrize("kind", ["dangling", "loop"])
def test_a_broken_symbolic_link_is_named_in_one_error(tmp_path, kind):
    root = make_folder(tmp_path / "set")
    if kind == "dangling":
        os.symlink(tmp_path / "gone.png", root / "x.png")
    else:
        os.symlink(root / "y.png", root / "x.png")
        os.symlink(root / "x.png", root / "y.png")
    with pytest.raises(DataError, match=r"symbolic link\(s\) under data.path=.* lead to no file .*x.png -> "):
        load_image_array(config(root), progress=False)


def test_a_working_symbolic_link_is_an_image_like_any_other(tmp_path):
    root = make_folder(tmp_path / "set")
    os.symlink(root / "a.png", root / "z.png")
    images = load_image_array(config(root), progress=False)
    assert len(images) == 7
    np.testing.assert_array_equal(images[-1], images[0])


def test_a_cache_path_is_read_from_the_user_cache_of_the_machine_that_reads_it(tmp_path, monkeypatch):
    # data.path = "cache:REST" names REST inside whichever user cache is in force when the data is read: the same
    # config.toml reads the first folder, then (another machine, another $WGANLAB_CACHE) the second.
    first, second = tmp_path / "one", tmp_path / "two"
    make_folder(first / "datasets" / "set")
    (second / "datasets" / "set").mkdir(parents=True)
    noise(16, 16, 9).save(second / "datasets" / "set" / "z.png")
    written = DataConfig(source="folder", path="cache:datasets/set", image_size=16)
    monkeypatch.setenv("WGANLAB_CACHE", str(first))
    assert load_image_array(written, progress=False).shape == (6, 3, 16, 16)
    monkeypatch.setenv("WGANLAB_CACHE", str(second))
    assert load_image_array(written, progress=False).shape == (1, 3, 16, 16)
    assert written.path == "cache:datasets/set"  # the config keeps the portable form


@pytest.mark.parametrize("path", ["cache:", "cache:/etc/images", "cache:../outside"])
def test_a_cache_path_must_stay_inside_the_user_cache(path):
    with pytest.raises(ConfigError, match="after 'cache:' give a relative path inside the user cache"):
        DataConfig(source="folder", path=path)


def test_decode_workers_block_sigint_and_sigterm_and_the_callers_mask_is_put_back():
    """The kernel gives a process's SIGINT/SIGTERM to any thread that does not block them; Python handles them in
    the main thread only, so the decode workers block both (hostile-inputs test: Ctrl-C during a slow decode)."""
    import queue
    import signal

    from wganlab.data.decode import start_daemons

    before = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    masks: queue.SimpleQueue = queue.SimpleQueue()
    start_daemons(lambda: masks.put(signal.pthread_sigmask(signal.SIG_BLOCK, [])), 2, "test-decode")
    for _ in range(2):
        blocked = masks.get(timeout=10)
        assert {signal.SIGINT, signal.SIGTERM} <= blocked
    assert signal.pthread_sigmask(signal.SIG_BLOCK, []) == before
    assert signal.SIGINT not in before  # the test runs with Ctrl-C deliverable, so the check above means something
