"""ImageBatches (order, sharding, flips, streaming, resume) and the array helpers of images.py."""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from wganlab.config import DataConfig, load_config
from wganlab.data.images import ImageBatches, convert_channels, load_image_array, resize_array
from wganlab.errors import DataError

CPU = torch.device("cpu")
CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "fashion_mnist"


def numbered(count: int, channels: int = 1, size: int = 4) -> np.ndarray:
    """Image i is filled with the value i (so a batch says which images it holds), with a ramp along x."""
    images = np.zeros((count, channels, size, size), dtype=np.uint8)
    images[:] = np.arange(count, dtype=np.uint8)[:, None, None, None]
    images[:, :, :, -1] = 255  # the last column marks the right side, so a mirror is visible
    return images


def ids(batch: torch.Tensor) -> list[int]:
    """Which numbered images a batch holds (read back from [-1, 1])."""
    return torch.round((batch[:, 0, 0, 1] + 1) * 127.5).to(torch.int64).tolist()


def test_batch_is_float_in_minus_one_one_with_exact_ends():
    images = np.stack([np.zeros((1, 2, 2), np.uint8), np.full((1, 2, 2), 255, np.uint8)])
    batches = ImageBatches(images, device=CPU, rng=torch.Generator().manual_seed(0))
    batch = batches.next_batch(2)
    assert batch.dtype == torch.float32
    assert batches.sample_shape == (1, 2, 2)
    assert len(batches) == 2
    torch.testing.assert_close(torch.sort(batch.flatten(1)[:, 0]).values, torch.tensor([-1.0, 1.0]))


def test_an_epoch_visits_every_image_once_and_batches_span_epochs():
    batches = ImageBatches(numbered(10), device=CPU, rng=torch.Generator().manual_seed(3))
    first = ids(batches.next_batch(7)) + ids(batches.next_batch(3))
    assert sorted(first) == list(range(10))
    crossing = ids(batches.next_batch(15))  # 10 of epoch 2, then 5 of epoch 3
    assert sorted(crossing[:10]) == list(range(10))
    assert batches.epoch == 3 and batches.position == 5


def test_ranks_take_disjoint_strided_shares_of_one_permutation():
    images = numbered(11)
    shares = []
    for rank in range(3):
        batches = ImageBatches(images, device=CPU, rng=torch.Generator().manual_seed(5), rank=rank, world_size=3)
        shares.append(ids(batches.next_batch(3)))
    permutation = torch.randperm(11, generator=torch.Generator().manual_seed(5)).tolist()
    assert shares == [permutation[rank:9:3] for rank in range(3)]


def test_flip_mirrors_some_images_and_leaves_the_others():
    images = numbered(64, size=4)
    batches = ImageBatches(images, device=CPU, rng=torch.Generator().manual_seed(0), flip=True)
    batch = batches.next_batch(64)
    right_marked = batch[:, 0, :, -1] == 1.0
    left_marked = batch[:, 0, :, 0] == 1.0
    assert torch.equal(right_marked.all(1) ^ left_marked.all(1), torch.ones(64, dtype=torch.bool))
    assert 0 < int(left_marked.all(1).sum()) < 64
    assert torch.equal(left_marked.all(1), batches.flips)  # one flip per position in the epoch order


@pytest.mark.parametrize("flip", [False, True])
@pytest.mark.parametrize("world_size", [1, 2])
def test_resume_continues_the_exact_order(resume_check, make_batches, flip, world_size):
    images = numbered(13, channels=3)
    resume_check(make_batches(images, flip=flip, rank=world_size - 1, world_size=world_size), batch_size=4)


def test_resume_before_the_first_batch(make_batches):
    rng = torch.Generator().manual_seed(9)
    make = make_batches(numbered(8))
    state, rng_state = make(rng).state_dict(), rng.get_state()
    expected = make(torch.Generator().manual_seed(9)).next_batch(5)
    rng.set_state(rng_state)
    resumed = make(rng)
    resumed.load_state_dict(state)
    assert torch.equal(resumed.next_batch(5), expected)


def test_same_seed_same_batches(seed_check, make_batches):
    seed_check(make_batches(numbered(20), flip=True), batch_size=6)


def test_state_from_another_dataset_is_refused(make_batches):
    state = make_batches(numbered(8))(torch.Generator()).state_dict()
    with pytest.raises(DataError, match="num_images=8"):
        make_batches(numbered(9))(torch.Generator()).load_state_dict(state)


def test_streaming_a_memmap_gives_the_in_memory_batches(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (23, 3, 5, 5), dtype=np.uint8)
    np.save(tmp_path / "images.npy", images)
    mapped = np.load(tmp_path / "images.npy", mmap_mode="r")
    outputs = []
    for stream in (False, True):
        batches = ImageBatches(mapped, device=CPU, rng=torch.Generator().manual_seed(2), flip=True, stream=stream)
        assert batches.streaming == stream
        drawn = [batches.next_batch(10) for _ in range(4)]
        drawn.append(batches.reference(30, torch.Generator().manual_seed(4)))
        outputs.append(torch.cat(drawn))
    torch.testing.assert_close(outputs[1], outputs[0], rtol=0, atol=0)


def test_streaming_resume(tmp_path, resume_check, make_batches):
    np.save(tmp_path / "images.npy", numbered(13, channels=3))
    resume_check(make_batches(np.load(tmp_path / "images.npy", mmap_mode="r"), stream=True, flip=True), 5)


def test_reference_draws_without_disturbing_the_batch_order(make_batches):
    make = make_batches(numbered(12), flip=True)
    plain = make(torch.Generator().manual_seed(1))
    expected = [plain.next_batch(5) for _ in range(4)]
    interleaved = make(torch.Generator().manual_seed(1))
    got = []
    for _ in range(4):
        got.append(interleaved.next_batch(5))
        reference = interleaved.reference(20, torch.Generator().manual_seed(0))
    for want, have in zip(expected, got, strict=True):
        assert torch.equal(have, want)
    assert reference.shape == (20, 1, 4, 4)
    assert sorted(ids(reference)[:12]) == list(range(12))  # the first 12 are one full permutation


def test_convert_channels_matches_pillow_luma_and_repeats_gray():
    rgb = np.random.default_rng(1).integers(0, 256, (2, 3, 6, 7), dtype=np.uint8)
    gray = convert_channels(rgb, 1)
    for index in range(2):
        pillow = np.asarray(Image.fromarray(rgb[index].transpose(1, 2, 0)).convert("L"))
        np.testing.assert_array_equal(gray[index, 0], pillow)
    np.testing.assert_array_equal(convert_channels(gray, 3), np.repeat(gray, 3, axis=1))
    assert convert_channels(rgb, 0) is rgb


def test_resize_array_is_pillow_lanczos_per_image():
    images = np.random.default_rng(2).integers(0, 256, (2, 1, 28, 28), dtype=np.uint8)
    resized = resize_array(images, 32)
    pillow = np.asarray(Image.fromarray(images[1, 0]).resize((32, 32), Image.Resampling.LANCZOS))
    np.testing.assert_array_equal(resized[1, 0], pillow)
    assert resize_array(images, 28) is images


@pytest.mark.parametrize("source", ["idx", "cifar10", "folder", "masked_folder", "zip", "array"])
def test_missing_path_names_it(tmp_path, source):
    missing = tmp_path / ("nowhere.npy" if source == "array" else "nowhere")
    with pytest.raises(DataError, match="nowhere"):
        load_image_array(DataConfig(source=source, path=str(missing), image_size=16), progress=False)


@pytest.mark.parametrize("objective,norm", [("gan", "batch"), ("wgan", "none"), ("wgan-gp", "layer")])
def test_fashion_mnist_presets_load(objective, norm):
    config = load_config(CONFIGS / f"{objective}.toml")
    assert (config.objective.name, config.model.critic_norm) == (objective, norm)
    assert (config.data.source, config.data.image_size, config.data.channels) == ("idx", 32, 1)
    assert (config.model.architecture, config.train.batch_size) == ("dcgan", 64)
