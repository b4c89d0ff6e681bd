"""What a run measures besides its losses: the evaluations change nothing in training, log the critic's
estimate on held-out data, follow log.eval_metrics' headline, and end with log.final_metrics."""

import math

import numpy as np
import pytest
import torch

from wganlab.config import DataConfig, load_config
from wganlab.data.images import load_image_array
from wganlab.errors import ConfigError
from wganlab.training import evaluation, loop
from wganlab.training.run_folder import RunFolder

# Fashion-MNIST at 32 px from 2 px of padding, tiny DCGANs with batch norm on both sides (the hardest case for
# "measuring changes nothing": batch-norm statistics would move if the held-out pass leaked into them).
IMAGES = [
    "data.source=idx",
    "data.pad=2",
    "data.channels=1",
    "model.architecture=dcgan",
    "model.channels=8",
    "model.z_dim=16",
    "model.generator_norm=batch",
    "model.critic_norm=batch",
    "train.batch_size=16",
    "train.device=cpu",
    "log.progress=false",
    "log.tensorboard=false",
]


def state_tensors(s) -> dict[str, torch.Tensor]:
    return {**{f"g.{k}": v for k, v in s.generator.network.state_dict().items()},
            **{f"c.{k}": v for k, v in s.critic.network.state_dict().items()}}  # fmt: skip


def test_evaluating_changes_nothing_in_training(tmp_path):
    common = [*IMAGES, "objective.name=gan", "train.steps=4", "log.log_every=2", "log.sample_every=100"]
    plain = loop.train(load_config(None, common), tmp_path / "plain", progress=False)
    measured_overrides = ["log.eval_every=1", "log.eval_metrics=fd_fmnist", "log.eval_samples=48"]
    measured = loop.train(load_config(None, [*common, *measured_overrides]), tmp_path / "measured", progress=False)
    a, b = state_tensors(plain), state_tensors(measured)
    assert a.keys() == b.keys() and any("running_mean" in k for k in a)
    for key in a:
        assert torch.equal(a[key], b[key]), key
    assert RunFolder(tmp_path / "plain").records("train") == RunFolder(tmp_path / "measured").records("train")
    evals = RunFolder(tmp_path / "measured").records("eval")
    assert [r["step"] for r in evals] == [1, 2, 3, 4]
    assert all(r["fd_fmnist"] > 0 and math.isfinite(r["heldout_js_estimate"]) for r in evals)


def test_headline_follows_eval_metrics_and_best_pt_follows_the_headline(tmp_path):
    config = load_config(None, [*IMAGES, "objective.name=wgan-gp", "model.critic_norm=layer", "train.steps=3",
                                "log.eval_every=1", "log.eval_metrics=fd_fmnist", "log.eval_samples=48"])  # fmt: skip
    loop.train(config, tmp_path / "run", progress=False)
    evals = RunFolder(tmp_path / "run").records("eval")
    best = torch.load(tmp_path / "run/checkpoints/best.pt", weights_only=True)
    assert best["best_metric"] == min(r["fd_fmnist"] for r in evals)
    assert "heldout_w_estimate" in evals[0]


def test_toys_log_a_heldout_estimate_on_fresh_samples(tiny_config, tmp_path):
    loop.train(tiny_config("wgan", "train.steps=4", "log.eval_every=2", "log.eval_samples=128"), tmp_path / "r",
               progress=False)  # fmt: skip
    evals = RunFolder(tmp_path / "r").records("eval")
    assert all("heldout_w_estimate" in r and "w1" in r for r in evals)
    # The clipped critic's diagnostics: weights at +-c and a small input-gradient norm (K far below 1).
    assert all(0 < r["clip_share"] <= 1 and 0 < r["critic_grad_norm"] < 1 for r in evals)


@pytest.mark.parametrize("data", ["toy", pytest.param("images", marks=pytest.mark.slow)])  # images: 7-14 s
def test_same_draws_give_frozen_networks_the_same_numbers_at_every_evaluation(tiny_config, tmp_path, data):
    """log.eval_same_draws: with learning rates too small to move a float32 weight (1e-30) and no batch norm (whose
    statistics would move), the networks do not change, so every evaluation must give the same numbers when it
    draws the same samples, and different ones (the draw's noise) when it draws new ones, as by default. The
    held-out estimate and the critic's slope included."""
    frozen = ["optim.generator_lr=1e-30", "optim.critic_lr=1e-30", "train.steps=3", "log.eval_every=1"]
    images = [*IMAGES, "objective.name=wgan-gp", "model.critic_norm=layer", "model.generator_norm=none",
              "log.eval_metrics=fd_fmnist", "log.eval_samples=48"]  # fmt: skip

    def config(same: bool):
        flag = f"log.eval_same_draws={str(same).lower()}"
        if data == "toy":
            return tiny_config("wgan-gp", *frozen, "log.eval_samples=128", flag)
        return load_config(None, [*images, *frozen, flag])

    numbers = {}
    for same in (True, False):
        loop.train(config(same), tmp_path / f"same-{same}", progress=False)
        evals = RunFolder(tmp_path / f"same-{same}").records("eval")
        numbers[same] = [{k: v for k, v in r.items() if k not in ("step", "images_seen", "kind")} for r in evals]
    assert len(numbers[True]) == len(numbers[False]) == 3
    assert all(r == numbers[True][0] for r in numbers[True])
    headline = "w1" if data == "toy" else "fd_fmnist"
    assert len({r[headline] for r in numbers[False]}) == 3
    assert numbers[False][0] != numbers[True][0]  # evaluation 1 is at step 1: its own draw, not step 0's


def test_final_metrics_are_measured_once_after_the_last_step_even_across_a_kill(tiny_config, tmp_path, monkeypatch):
    config = tiny_config("wgan-gp", "train.steps=4", "log.final_metrics=w1,modes", "log.final_samples=300")
    original = evaluation.Evaluation.final

    def killed(self, book):
        raise KeyboardInterrupt

    monkeypatch.setattr(evaluation.Evaluation, "final", killed)
    with pytest.raises(KeyboardInterrupt):
        loop.train(config, tmp_path / "run", progress=False)
    folder = RunFolder(tmp_path / "run")
    assert folder.records("final") == [] and folder.outcome() is None
    monkeypatch.setattr(evaluation.Evaluation, "final", original)
    loop.train(config, tmp_path / "run", resume=True, progress=False)
    finals = folder.records("final")
    assert len(finals) == 1 and finals[0]["step"] == 4 and finals[0]["samples"] == 300
    assert {"w1", "modes_hit", "modes_total", "high_quality_share"} <= set(finals[0])
    assert folder.outcome()["status"] == "finished"


def test_epochs_set_the_steps_from_the_data(tmp_path):
    # 0.01 passes over 60,000 images at 64 images per critic update and 5 updates per step: ceil(600 / 320) = 2.
    config = load_config(None, [*IMAGES, "objective.name=wgan-gp", "model.critic_norm=layer", "train.batch_size=64",
                                "train.epochs=0.01"])  # fmt: skip
    s = loop.train(config, tmp_path / "run", progress=False)
    assert s.step == 2 and RunFolder(tmp_path / "run").read_config().train.steps == 2
    with pytest.raises(ConfigError, match="train.epochs counts passes over a dataset"):
        load_config(None, ["train.epochs=1"])


def test_padding_keeps_every_pixel():
    native = load_image_array(DataConfig(source="idx", split="test"), progress=False)[:5]
    padded = load_image_array(DataConfig(source="idx", split="test", pad=2), progress=False)[:5]
    assert padded.shape == (5, 1, 32, 32)
    assert np.array_equal(padded[:, :, 2:30, 2:30], native) and padded[:, :, :2].max() == 0


def test_unknown_eval_metrics_are_refused_in_one_line():
    with pytest.raises(ConfigError, match=r"log.eval_metrics: fid is not a toy metric"):
        load_config(None, ["log.eval_metrics=fid"])
