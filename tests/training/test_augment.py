"""DiffAugment (train.augment): each operation against hand-computed values on tiny tensors, the draws' ranges,
gradients through it (to the generator), resume bit for bit with it on, and a run with it off computing exactly
what it computed before the augmentation existed. Also data.max_images, the small-data subset."""

import hashlib

import numpy as np
import pytest
import torch

from wganlab.config import load_config
from wganlab.data import limit_images
from wganlab.errors import ConfigError
from wganlab.training import loop
from wganlab.training.augment import DiffAugment, brightness, contrast, cutout, saturation, translate
from wganlab.training.distributed import init_distributed
from wganlab.training.run_folder import RunFolder
from wganlab.training.state import build_state, make_rng, seeded_global_rngs

# Fashion-MNIST at 32 px, tiny DCGANs (no norm in the critic, as the WGAN-GP image cells).
IMAGES = [
    "data.source=idx", "data.pad=2", "data.channels=1", "model.architecture=dcgan", "model.channels=8",
    "model.z_dim=16", "model.critic_norm=none", "train.batch_size=16", "train.device=cpu", "log.progress=false",
    "log.tensorboard=false", "objective.name=wgan-gp",
]  # fmt: skip
POLICY = "train.augment=color,translation,cutout"


def test_brightness_adds_one_shift_per_image():
    x = torch.tensor([[[[0.0, 1.0], [2.0, 3.0]]], [[[0.0, 1.0], [2.0, 3.0]]]])  # (2, 1, 2, 2)
    out = brightness(x, torch.tensor([0.25, -0.5]))
    torch.testing.assert_close(out, torch.tensor([[[[0.25, 1.25], [2.25, 3.25]]], [[[-0.5, 0.5], [1.5, 2.5]]]]))


def test_saturation_scales_each_pixel_about_its_channel_mean():
    # One RGB pixel (1, 2, 3): channel mean 2; factor 0.5 -> (1.5, 2, 2.5); factor 0 -> grey (2, 2, 2).
    x = torch.tensor([1.0, 2.0, 3.0]).view(1, 3, 1, 1).repeat(2, 1, 1, 1)
    out = saturation(x, torch.tensor([0.5, 0.0]))
    torch.testing.assert_close(out[:, :, 0, 0], torch.tensor([[1.5, 2.0, 2.5], [2.0, 2.0, 2.0]]))
    grey = torch.tensor([[[[0.3, -0.7], [0.1, 0.9]]]])
    assert torch.equal(saturation(grey, torch.tensor([1.7])), grey)  # one channel: nothing to saturate


def test_contrast_scales_about_the_image_mean():
    x = torch.tensor([[[[0.0, 2.0], [4.0, 6.0]]]])  # mean 3
    torch.testing.assert_close(contrast(x, torch.tensor([0.5])), torch.tensor([[[[1.5, 2.5], [3.5, 4.5]]]]))
    torch.testing.assert_close(contrast(x, torch.tensor([1.5])), torch.tensor([[[[-1.5, 1.5], [4.5, 7.5]]]]))


def test_translation_moves_the_image_and_pads_zeros():
    x = (torch.arange(16.0) + 1).view(1, 1, 4, 4)
    # 1 down and 1 left: out[i, j] = x[i - 1, j + 1]; the top row and the right column come in as zeros.
    out = translate(x, torch.tensor([1]), torch.tensor([-1]))
    expected = torch.tensor([[0, 0, 0, 0], [2, 3, 4, 0], [6, 7, 8, 0], [10, 11, 12, 0]], dtype=torch.float32)
    assert torch.equal(out[0, 0], expected)
    # Two images, two channels, different shifts; a shift of the whole side leaves nothing.
    x2 = torch.stack([x[0], x[0] * 10]).repeat(1, 2, 1, 1)[:, :2]  # (2, 2, 4, 4)
    out2 = translate(x2, torch.tensor([0, -2]), torch.tensor([4, 0]))
    assert torch.equal(out2[0], torch.zeros(2, 4, 4))
    assert torch.equal(out2[1, :, :2], x2[1, :, 2:]) and torch.equal(out2[1, :, 2:], torch.zeros(2, 2, 4))
    assert torch.equal(translate(x, torch.tensor([0]), torch.tensor([0])), x)


def test_cutout_zeroes_the_square_inside_the_image():
    x = torch.ones(2, 3, 4, 4)
    out = cutout(x, torch.tensor([1, -1]), torch.tensor([0, 2]), (2, 2))
    first = torch.ones(4, 4)
    first[1:3, 0:2] = 0  # rows 1-2, columns 0-1
    second = torch.ones(4, 4)
    second[0:1, 2:4] = 0  # rows -1..0 and columns 2-3: only row 0 lies inside
    assert torch.equal(out[0], first.expand(3, 4, 4)) and torch.equal(out[1], second.expand(3, 4, 4))


def test_the_draws_stay_in_the_papers_ranges():
    """32 px: shifts of at most 32 // 8 = 4 pixels, cutouts of 16 x 16 (partly outside at the edges)."""
    x = torch.ones(512, 1, 32, 32)
    moved = DiffAugment(("translation",), torch.Generator().manual_seed(0))(x)
    empty_rows = (moved.sum(dim=(1, 3)) == 0).sum(dim=1)  # rows shifted out, per image
    assert empty_rows.max() == 4 and set(empty_rows.tolist()) == {0, 1, 2, 3, 4}
    cut = DiffAugment(("cutout",), torch.Generator().manual_seed(0))(x)
    zeros = (cut == 0).sum(dim=(1, 2, 3))
    assert zeros.max() == 16 * 16 and zeros.min() >= 8 * 8  # a centre at a corner keeps a quarter inside
    coloured = DiffAugment(("color",), torch.Generator().manual_seed(0))(torch.zeros(512, 3, 2, 2))
    # Zero images: saturation and contrast have nothing to scale, so the values are the brightness shifts.
    assert -0.5 <= coloured.min() < -0.45 and 0.45 < coloured.max() < 0.5


def test_the_same_rng_gives_the_same_augmentation_and_images_differ():
    x = torch.randn(8, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    policy = ("color", "translation", "cutout")
    a = DiffAugment(policy, torch.Generator().manual_seed(5))(x)
    b = DiffAugment(policy, torch.Generator().manual_seed(5))(x)
    assert torch.equal(a, b) and not torch.equal(a[0] - x[0], a[1] - x[1])


def test_gradients_flow_through_the_augmentation():
    """Each operation is linear in x for given draws: gradcheck (fp64) through the whole policy."""
    x = torch.randn(3, 3, 8, 8, dtype=torch.float64, requires_grad=True)

    def augment(images):
        return DiffAugment(("color", "translation", "cutout"), torch.Generator().manual_seed(3))(images)

    assert torch.autograd.gradcheck(augment, (x,))


def test_the_generator_step_differentiates_through_the_augmentation(monkeypatch):
    """The generator's gradient is the one through D(T(G(z))): the critic sees the augmented fakes."""
    config = load_config(None, [*IMAGES, POLICY])
    with seeded_global_rngs(0):
        s = build_state(config, init_distributed("cpu"), progress=False)
    seen = []
    forward = s.critic.network.forward
    monkeypatch.setattr(s.critic.network, "forward", lambda x: seen.append(x) or forward(x))
    loop.generator_step(s)
    assert len(seen) == 1 and seen[0].requires_grad
    assert (seen[0] == 0).flatten(1).sum(dim=1).min() >= 8 * 8  # every fake has its cutout
    grads = [p.grad for p in s.generator.network.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads) and any(g.abs().sum() > 0 for g in grads)


def digest(s) -> str:
    h = hashlib.sha256()
    for prefix, network in (("g", s.generator.network), ("c", s.critic.network)):
        for name, value in network.state_dict().items():
            h.update(f"{prefix}.{name}".encode())
            h.update(value.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def test_augment_off_leaves_every_step_as_it_was(tmp_path, monkeypatch):
    """Off, the augmentation never runs, draws or is saved: the critic scores the data's batches, the generator's
    samples and the penalty's mixes exactly as they are, so a run is the run it was before the option existed.
    (Checked by what the critic sees, not against stored numbers, which would hold on one CPU only.)"""
    monkeypatch.setattr(DiffAugment, "__call__", lambda self, x: pytest.fail("augmented with train.augment off"))
    config = load_config(None, [*IMAGES, "train.steps=2", "log.log_every=1"])
    s = build_state(config, init_distributed("cpu"), progress=False)
    assert s.augment is None
    seen = []
    forward = s.critic.network.forward
    monkeypatch.setattr(s.critic.network, "forward", lambda x: seen.append(x.detach().clone()) or forward(x))
    twin = build_state(config, init_distributed("cpu"), progress=False)  # the same seed: the same draws
    real = twin.data.next_batch(twin.local_batch_size)
    with torch.no_grad():
        fake = twin.generator.network(twin.noise(len(real)))
    loop.critic_step(s, s.data.next_batch(s.local_batch_size))
    assert torch.equal(seen[0], real) and torch.equal(seen[1], fake)  # the batch and the fakes, untouched
    loop.train(config, tmp_path / "run", progress=False)
    payload = torch.load(tmp_path / "run/checkpoints/latest.pt", weights_only=True)
    assert "augment" not in payload["rng"] and "generator_ema" not in payload


def test_resume_with_augment_continues_bitwise(tmp_path):
    common = [*IMAGES, POLICY, "log.log_every=2", "log.checkpoint_every=2", "log.sample_every=100"]
    whole = loop.train(load_config(None, [*common, "train.steps=4"]), tmp_path / "whole", progress=False)
    loop.train(load_config(None, [*common, "train.steps=2"]), tmp_path / "split", progress=False)
    resumed = loop.train(load_config(None, [*common, "train.steps=4"]), tmp_path / "split", resume=True,
                         progress=False)  # fmt: skip
    assert digest(whole) == digest(resumed)
    assert torch.equal(whole.augment.rng.get_state(), resumed.augment.rng.get_state())
    assert RunFolder(tmp_path / "whole").records() == RunFolder(tmp_path / "split").records()
    # Its draws come from its own stream: the noise stream is where a run without augmentation leaves it.
    plain = loop.train(load_config(None, [*IMAGES, "train.steps=4", "log.sample_every=100"]), tmp_path / "plain",
                       progress=False)  # fmt: skip
    assert torch.equal(plain.noise_rng.get_state(), whole.noise_rng.get_state())
    assert digest(plain) != digest(whole)
    expected = make_rng(0, "augment")
    assert not torch.equal(expected.get_state(), whole.augment.rng.get_state())  # it drew


def test_augment_is_checked():
    with pytest.raises(ConfigError, match="train.augment='colour' is not one of color, translation, cutout"):
        load_config(None, [*IMAGES, "train.augment=colour"])
    with pytest.raises(ConfigError, match="names an augmentation twice"):
        load_config(None, [*IMAGES, "train.augment=cutout,cutout"])
    with pytest.raises(ConfigError, match="toys have none"):
        load_config(None, ["train.augment=color"])


def test_max_images_takes_the_same_seeded_subset_in_dataset_order():
    images = np.arange(50, dtype=np.uint8).reshape(50, 1, 1, 1)
    subset = limit_images(images, 20)
    assert subset.shape == (20, 1, 1, 1) and np.array_equal(subset, limit_images(images, 20))
    assert np.all(np.diff(subset.ravel().astype(int)) > 0)  # distinct and in order
    assert limit_images(images, 0) is images and limit_images(images, 50) is images
    config = load_config(None, [*IMAGES, "data.max_images=100", "train.seed=3"])
    with seeded_global_rngs(3):
        s = build_state(config, init_distributed("cpu"), progress=False)
    assert s.data.num_images == 100
    with pytest.raises(ConfigError, match="data.max_images=-1"):
        load_config(None, [*IMAGES, "data.max_images=-1"])
