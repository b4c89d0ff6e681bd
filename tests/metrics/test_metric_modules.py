"""Metrics are found by module: a file dropped into `wganlab.metrics.toy` or `.image` is a metric, measured by
evaluations and `wganlab eval` alike, with nothing else changed (no name table, no call site)."""

import sys

import pytest
import torch
from torch.testing import assert_close

import wganlab.metrics.image
import wganlab.metrics.toy
from wganlab.config import load_config
from wganlab.errors import ConfigError, MetricError
from wganlab.metrics import load_metric, metric_keys, metric_names
from wganlab.metrics.evaluate import evaluate_images
from wganlab.training.quality import build_quality

# |mean(fake) - mean(real)| per coordinate, summed: the toy metric of a generator that ignores z is known exactly.
TOY_METRIC = """
NAME = "mean_gap"
KEYS = ("mean_gap",)
NEEDS = "samples"


def measure(samples):
    return {"mean_gap": float((samples.fake.mean(0) - samples.real.mean(0)).abs().sum())}
"""
# The squared distance of the feature means: FID without the covariance term, from the shared Inception pass.
IMAGE_METRIC = """
NAME = "mean_distance"
KEYS = ("mean_distance",)
NEEDS = "inception_features"


def measure(inception):
    gap = inception.features.double().mean(0).numpy() - inception.reference.mean
    return {"mean_distance": float((gap**2).sum())}
"""


@pytest.fixture
def packages(tmp_path, monkeypatch):
    """A folder added to each metric package's path; its modules are forgotten afterwards."""
    folders = {}
    for package in (wganlab.metrics.toy, wganlab.metrics.image):
        folder = folders[package.__name__.rpartition(".")[2]] = tmp_path / package.__name__
        folder.mkdir()
        monkeypatch.setattr(package, "__path__", [*package.__path__, str(folder)])
        for name in ("mean_gap", "mean_distance", "broken"):
            monkeypatch.delitem(sys.modules, f"{package.__name__}.{name}", raising=False)
    return folders


class Constant(torch.nn.Module):
    """A generator that ignores z: every sample is `point`."""

    def __init__(self, point):
        super().__init__()
        self.point = torch.tensor(point)

    def forward(self, z):
        return self.point.expand(len(z), -1)


def test_the_shipped_metrics_are_the_package_files():
    assert metric_names("toy") == ["modes", "sliced_w2", "w1"]
    assert metric_names("image") == ["cs_fmnist", "fd_fmnist", "fid", "is", "kid", "modes_stacked", "pr"]
    assert metric_keys("toy")["modes"] == ("modes_hit", "modes_total", "high_quality_share")
    assert metric_keys("image")["kid"][0] == "kid_mean"


def test_a_new_toy_metric_is_one_file(packages):
    (packages["toy"] / "mean_gap.py").write_text(TOY_METRIC)
    # two_gaussians_1d: modes at -1 and +1 with equal weight, so the real mean is near 0 and a constant 3 is ~3 off.
    config = load_config(
        None, ["data.source=two_gaussians_1d", "model.z_dim=1", "log.eval_metrics=mean_gap,w1", "log.eval_every=1"]
    )
    quality = build_quality(config)
    assert quality.headline == "mean_gap" and "mean_gap" in quality.for_eval
    values = quality.measure(Constant([3.0]), quality.during_training, n=4000, rng=torch.Generator().manual_seed(0))
    assert list(values) == ["mean_gap", "w1"]
    assert_close(values["mean_gap"], 3.0, atol=0.1, rtol=0)
    assert_close(values["w1"], values["mean_gap"], atol=0.1, rtol=0)  # all the mass moves by about 3
    with pytest.raises(ConfigError, match="log.eval_metrics: mean_gap is not an image metric"):
        load_config(None, ["data.source=idx", "model.architecture=dcgan", "log.eval_metrics=mean_gap"])


def test_a_new_image_metric_is_one_file_and_shares_the_inception_pass(packages):
    (packages["image"] / "mean_distance.py").write_text(IMAGE_METRIC)
    fake = torch.full((50, 1, 4, 4), 0.5)
    real = torch.zeros(80, 1, 4, 4)
    values = evaluate_images(
        fake, real, ["mean_distance", "fid"], n=50, extractor=torch.nn.Flatten(), rng=torch.Generator(), device="cpu",
        progress=False,
    )  # fmt: skip
    assert_close(values["mean_distance"], 16 * 0.5**2)  # 16 features, each 0.5 apart
    assert_close(values["fid"], values["mean_distance"], atol=1e-6, rtol=0)  # both sets have zero covariance


def test_a_module_without_the_declarations_is_named(packages):
    (packages["toy"] / "broken.py").write_text('NAME = "broken"\nKEYS = ("b",)\nNEEDS = "generator"\n')
    with pytest.raises(TypeError, match=r"wganlab.metrics.toy.broken is not a toy metric module: .*missing: measure"):
        load_metric("toy", "broken")
    with pytest.raises(MetricError, match="'nope' is not an image metric; choose from cs_fmnist"):
        load_metric("image", "nope")
