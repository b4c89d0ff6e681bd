"""The toy distributions: shapes, the published geometry, explicit generators, and DDP row sharing."""

import math

import pytest
import torch
from torch.testing import assert_close

from wganlab.config import DataConfig
from wganlab.data.toy import SPECS, ToyBatches, mode_centres, mode_std, sample_toy, unscaled_centres

CPU = torch.device("cpu")


def draw(name: str, n: int = 4000, seed: int = 0) -> torch.Tensor:
    return sample_toy(name, n, 0.0, torch.Generator().manual_seed(seed), CPU)


@pytest.mark.parametrize("name", sorted(SPECS))
def test_shape_dtype_and_determinism_under_the_generator(name):
    samples = draw(name, 500)
    assert samples.shape == (500, SPECS[name].dims) and samples.dtype == torch.float32
    assert torch.isfinite(samples).all()
    assert torch.equal(samples, draw(name, 500))  # same seed, same samples
    assert not torch.equal(samples, draw(name, 500, seed=1))


def test_eight_gaussians_sit_on_a_ring_of_radius_2_over_1_414_with_std_0_02_over_1_414():
    samples, centres = draw("eight_gaussians"), mode_centres("eight_gaussians")
    assert_close(centres.norm(dim=1), torch.full((8,), 2 / 1.414))
    nearest = torch.cdist(samples, centres).argmin(dim=1)
    offsets = samples - centres[nearest]
    assert offsets.std().item() == pytest.approx(0.02 / 1.414, rel=0.05)
    assert offsets.abs().max() < 5 * mode_std("eight_gaussians", 0.0)
    shares = torch.bincount(nearest, minlength=8) / len(samples)
    assert shares.min() > 0.1 and shares.max() < 0.15  # each mode 1/8 = 0.125 of the draws


def test_twenty_five_gaussians_cover_the_5x5_grid():
    samples, centres = draw("twenty_five_gaussians"), mode_centres("twenty_five_gaussians")
    assert len(centres) == 25 and torch.cdist(samples, centres).argmin(dim=1).unique().numel() == 25
    assert_close(centres.max(), torch.tensor(4 / 2.828))


def test_one_dimensional_toys_follow_their_definitions():
    unit = draw("gaussian_1d", 20000)  # seed 002 appendix: real data N(-1, 1)
    assert unit.mean().item() == pytest.approx(-1.0, abs=0.03) and unit.std().item() == pytest.approx(1.0, abs=0.03)
    two = draw("two_gaussians_1d", 20000)
    assert (two < 0).float().mean().item() == pytest.approx(0.5, abs=0.02)
    assert two[two < 0].mean().item() == pytest.approx(-1.0, abs=0.02)


def test_swiss_roll_and_s_curve_follow_scikit_learn_parametrisations():
    roll = draw("swiss_roll") * 7.5  # undo the rescaling; noise 0.25 on points at radius t in [1.5 pi, 4.5 pi]
    radius = roll.norm(dim=1)
    assert radius.min() > 1.5 * math.pi - 1.5 and radius.max() < 4.5 * math.pi + 1.5
    s_curve = draw("s_curve")
    assert s_curve[:, 0].abs().max() <= 1.0 + 0.05 and s_curve[:, 1].abs().max() <= 2.0 + 0.05


def test_precomputed_centres_give_the_same_samples():
    rng_a, rng_b = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    plain = sample_toy("eight_gaussians", 64, 0.0, rng_a, CPU)
    cached = sample_toy("eight_gaussians", 64, 0.0, rng_b, CPU, centres=unscaled_centres("eight_gaussians", CPU))
    assert torch.equal(plain, cached)


def test_processes_keep_interleaved_rows_of_one_global_batch():
    config = DataConfig(source="eight_gaussians")
    alone = ToyBatches(config, device=CPU, rng=torch.Generator().manual_seed(5)).next_batch(8)
    shares = [
        ToyBatches(config, device=CPU, rng=torch.Generator().manual_seed(5), rank=rank, world_size=2).next_batch(4)
        for rank in (0, 1)
    ]
    assert torch.equal(alone[0::2], shares[0]) and torch.equal(alone[1::2], shares[1])
