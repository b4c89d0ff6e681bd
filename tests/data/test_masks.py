"""Image + mask pairs: matching, white background, box crop padded square, prepare_masked_folder."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from wganlab.config import DataConfig
from wganlab.data.images import load_image_array
from wganlab.data.sources.masked_folder import find_pairs, prepare_masked_folder, process_pair
from wganlab.errors import DataError


def photo(seed: int, width: int = 40, height: int = 30) -> np.ndarray:
    # Values below 250 so that "white" in a result can only come from the masking.
    return np.random.default_rng(seed).integers(0, 250, (height, width, 3), dtype=np.uint8)


def box_mask(top: int, left: int, height: int, width: int, size=(40, 30)) -> np.ndarray:
    mask = np.zeros(size[::-1], dtype=np.uint8)
    mask[top : top + height, left : left + width] = 1
    return mask


def save_gif_mask(mask01: np.ndarray, path: Path) -> None:
    """Carvana's masks: palette GIFs with indices 0 (black) and 1 (white)."""
    image = Image.fromarray(mask01, "P")
    image.putpalette([0, 0, 0, 255, 255, 255] + [0] * 762)
    image.save(path)


def carvana(root: Path, count: int = 3) -> Path:
    (root / "train").mkdir(parents=True)
    (root / "train_masks").mkdir()
    for index in range(count):
        Image.fromarray(photo(index)).save(root / "train" / f"car{index}.png")
        save_gif_mask(box_mask(5 + index, 10, 10, 20), root / "train_masks" / f"car{index}_mask.gif")
    return root


def test_box_crop_padded_square_by_hand(tmp_path):
    root = carvana(tmp_path / "set", count=1)
    result = np.asarray(process_pair(root / "train" / "car0.png", root / "train_masks" / "car0_mask.gif", 20))
    # The 10 x 20 box (rows 5..14, cols 10..29) is padded with 5 white rows above and below.
    expected = np.full((20, 20, 3), 255, np.uint8)
    expected[5:15] = photo(0)[5:15, 10:30]
    np.testing.assert_array_equal(result, expected)


def test_background_inside_the_box_turns_white(tmp_path):
    image, mask = photo(1, 10, 10), np.zeros((10, 10), np.uint8)
    mask[2:8, 4:6] = 255  # a cross: its box is rows 2..7, cols 2..7
    mask[4:6, 2:8] = 255
    Image.fromarray(image).save(tmp_path / "x.png")
    Image.fromarray(mask, "L").save(tmp_path / "x_mask.png")
    result = np.asarray(process_pair(tmp_path / "x.png", tmp_path / "x_mask.png", 6))
    expected = np.where(mask[2:8, 2:8, None] > 127, image[2:8, 2:8], 255)
    np.testing.assert_array_equal(result, expected)


def test_images_and_masks_folders_pair_by_name(tmp_path):
    for sub in ("images", "masks"):
        (tmp_path / sub).mkdir()
    for name in ("b", "a"):
        Image.fromarray(photo(2)).save(tmp_path / "images" / f"{name}.jpg")
        Image.fromarray(box_mask(0, 0, 5, 5) * 255, "L").save(tmp_path / "masks" / f"{name}.png")
    assert [name for name, _, _ in find_pairs(tmp_path)] == ["a", "b"]


def test_load_image_array_shapes_and_resume(tmp_path, resume_check, seed_check, make_batches):
    config = DataConfig(source="masked_folder", path=str(carvana(tmp_path / "set", 5)), image_size=16)
    images = load_image_array(config, progress=False)
    assert (images.shape, images.dtype) == ((5, 3, 16, 16), np.uint8)
    gray = load_image_array(DataConfig(source="masked_folder", path=config.path, image_size=16, channels=1))
    assert gray.shape == (5, 1, 16, 16)
    resume_check(make_batches(images, flip=True), batch_size=3)
    seed_check(make_batches(images), batch_size=3)


def test_mask_without_image_is_named(tmp_path):
    root = carvana(tmp_path / "set")
    (root / "train" / "car1.png").unlink()
    with pytest.raises(DataError, match="1 masks under .* have no image: train_masks/car1_mask.gif"):
        find_pairs(root)


def test_image_without_mask_is_named(tmp_path):
    root = carvana(tmp_path / "set")
    (root / "train_masks" / "car2_mask.gif").unlink()
    with pytest.raises(DataError, match="1 images under .* have no mask .*: train/car2.png"):
        find_pairs(root)


def test_mismatched_or_empty_masks_are_skipped_or_refused(tmp_path):
    root = carvana(tmp_path / "set", 4)
    save_gif_mask(box_mask(0, 0, 2, 2, size=(20, 20)), root / "train_masks" / "car1_mask.gif")
    save_gif_mask(np.zeros((30, 40), np.uint8), root / "train_masks" / "car3_mask.gif")
    config = DataConfig(source="masked_folder", path=str(root), image_size=16)
    with pytest.warns(
        UserWarning,
        match=r"skipped 2 of 4 unreadable images .*train/car1.png \(ValueError: mask is 20x20 but image is 40x30\), "
        r"train/car3.png \(ValueError: mask is empty\)",
    ):
        assert load_image_array(config, progress=False).shape == (2, 3, 16, 16)
    strict = DataConfig(source="masked_folder", path=str(root), image_size=16, strict=True)
    with pytest.raises(DataError, match="2 of 4 images .* unreadable"):
        load_image_array(strict, progress=False)


def test_native_size_is_refused(tmp_path):
    with pytest.raises(DataError, match="needs data.image_size"):
        load_image_array(DataConfig(source="masked_folder", path=str(carvana(tmp_path / "set"))))


def test_prepare_writes_pngs_and_a_before_after_grid(tmp_path):
    root = carvana(tmp_path / "set", 3)
    images_out = prepare_masked_folder(root, tmp_path / "out", 16, progress=False)
    assert images_out == tmp_path / "out" / "images"
    assert sorted(p.name for p in images_out.iterdir()) == ["car0.png", "car1.png", "car2.png"]
    with Image.open(tmp_path / "out" / "before_after.png") as grid:
        assert grid.size == (3 * 16, 2 * 16)
    prepared = load_image_array(DataConfig(source="folder", path=str(images_out), image_size=16), progress=False)
    direct = load_image_array(DataConfig(source="masked_folder", path=str(root), image_size=16), progress=False)
    np.testing.assert_array_equal(prepared, direct)


def test_fixed_crop_keeps_objects_at_their_relative_size(tmp_path):
    """--crop 20: a 20 x 20 window around each object's box centre, white where it leaves the image."""
    pixels = photo(0)
    Image.fromarray(pixels).save(tmp_path / "a.png")
    save_gif_mask(box_mask(2, 30, 6, 8), tmp_path / "a_mask.gif")  # rows 2..7, columns 30..37 of a 40 x 30 image
    result = np.asarray(process_pair(tmp_path / "a.png", tmp_path / "a_mask.gif", 20, crop=20))
    # Centre (row 5, column 34): the window spans rows -5..14 and columns 24..43; rows < 0, columns >= 40 are outside.
    expected = np.full((20, 20, 3), 255, dtype=np.uint8)
    expected[5 + 2 : 5 + 8, 6:14] = pixels[2:8, 30:38]  # the object, unchanged and at its own size
    np.testing.assert_array_equal(result, expected)
    with pytest.raises(ValueError, match="larger than the 4 px crop"):
        process_pair(tmp_path / "a.png", tmp_path / "a_mask.gif", 8, crop=4)


def test_prepare_says_why_a_pair_was_skipped(tmp_path):
    root = carvana(tmp_path / "set", 3)
    save_gif_mask(box_mask(0, 0, 2, 2, size=(20, 20)), root / "train_masks" / "car1_mask.gif")
    with pytest.warns(UserWarning, match=r"skipped 1 of 3 .*train/car1.png \(ValueError: mask is 20x20 but image"):
        prepare_masked_folder(root, tmp_path / "out", 16, progress=False)
    assert sorted(p.name for p in (tmp_path / "out" / "images").iterdir()) == ["car0.png", "car2.png"]


def test_prepare_messages_name_its_source_argument_not_data_path(tmp_path):
    with pytest.raises(DataError, match=r"^SOURCE='.*nowhere' does not exist"):
        prepare_masked_folder(tmp_path / "nowhere", tmp_path / "out", 16, progress=False)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"^no images found under SOURCE="):
        prepare_masked_folder(tmp_path / "empty", tmp_path / "out", 16, progress=False)
    with pytest.raises(DataError, match=r"^--size 4 must be at least 8"):
        prepare_masked_folder(tmp_path / "empty", tmp_path / "out", 4, progress=False)


def test_a_16_bit_grayscale_image_is_masked_at_8_bits(tmp_path):
    (tmp_path / "set" / "images").mkdir(parents=True)
    (tmp_path / "set" / "masks").mkdir()
    Image.fromarray(np.full((8, 8), 32896, dtype=np.uint16)).save(tmp_path / "set" / "images" / "a.png")
    Image.fromarray(np.full((8, 8), 255, dtype=np.uint8)).save(tmp_path / "set" / "masks" / "a.png")
    result = np.asarray(process_pair(tmp_path / "set/images/a.png", tmp_path / "set/masks/a.png", 8))
    np.testing.assert_array_equal(result, np.full((8, 8, 3), 128, dtype=np.uint8))  # 32896 / 257 = 128
