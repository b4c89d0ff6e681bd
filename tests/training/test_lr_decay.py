"""optim.lr_decay='linear' (the WGAN-GP paper's CIFAR-10 ResNet runs): the rates at each step against the formula,
and a resume that continues the decay bitwise."""

import pytest
import torch
from test_checkpoint import assert_same_networks, train_records

from wganlab.errors import ConfigError
from wganlab.training import loop
from wganlab.training.distributed import DistContext
from wganlab.training.run_folder import RunFolder
from wganlab.training.state import build_state

DECAY = ["optim.lr_decay=linear", "optim.generator_lr=2e-4", "optim.critic_lr=1e-4"]


def rates(s) -> tuple[float, float]:
    return s.generator.optimizer.param_groups[0]["lr"], s.critic.optimizer.param_groups[0]["lr"]


def test_rates_fall_linearly_to_zero_over_the_span(tiny_config):
    s = build_state(tiny_config("wgan-gp", *DECAY, "train.steps=8", "optim.lr_decay_steps=4"), DistContext.local())
    for step, factor in [(0, 1.0), (1, 0.75), (2, 0.5), (3, 0.25), (4, 0.0), (6, 0.0)]:
        s.step = step
        s.schedule_learning_rates()
        assert rates(s) == (2e-4 * factor, 1e-4 * factor), step  # 1 - step / 4, and 0 past the span, never negative


def test_span_defaults_to_train_steps_and_each_step_uses_its_own_factor(tiny_config, monkeypatch):
    s = build_state(tiny_config("wgan-gp", *DECAY, "train.steps=5"), DistContext.local())
    seen = []
    monkeypatch.setattr(loop, "critic_step", lambda s, real: seen.append(("critic", s.step, rates(s))))
    monkeypatch.setattr(loop, "generator_step", lambda s: seen.append(("generator", s.step, rates(s))))
    for _ in range(2):
        loop.train_step(s)
    # n_critic 5 critic updates and one generator update per step, all at the step's 1 - step / 5.
    assert seen == [(player, 0, (2e-4, 1e-4)) for player in ["critic"] * 5 + ["generator"]] + [
        (player, 1, (2e-4 * 0.8, 1e-4 * 0.8)) for player in ["critic"] * 5 + ["generator"]
    ]


def test_without_decay_the_rates_stay_as_configured(tiny_config):
    s = build_state(tiny_config("wgan-gp", "train.steps=3", "optim.generator_lr=2e-4"), DistContext.local())
    for _ in range(2):
        loop.train_step(s)
    assert s.step == 2 and rates(s) == (2e-4, 1e-4)


def test_resume_continues_the_decay_bitwise(tiny_config, tmp_path):
    common = [*DECAY, "optim.lr_decay_steps=6", "log.log_every=3", "log.checkpoint_every=3", "log.sample_every=100"]
    whole = loop.train(tiny_config("wgan-gp", "train.steps=6", *common), tmp_path / "whole", progress=False)
    loop.train(tiny_config("wgan-gp", "train.steps=3", *common), tmp_path / "split", progress=False)
    checkpoint = torch.load(tmp_path / "split/checkpoints/latest.pt", weights_only=True)
    assert checkpoint["lr_schedule"] == {"decay": "linear", "steps": 6}
    resumed_config = tiny_config("wgan-gp", "train.steps=6", *common)
    RunFolder(tmp_path / "split").check_resume(resumed_config)
    resumed = loop.train(resumed_config, tmp_path / "split", resume=True, progress=False)
    assert resumed.step == whole.step == 6
    assert rates(whole) == rates(resumed) == (2e-4 * (1 - 5 / 6), 1e-4 * (1 - 5 / 6))  # the last step's
    assert_same_networks(whole, resumed)
    for a, b in zip(whole.critic.optimizer.state.values(), resumed.critic.optimizer.state.values(), strict=True):
        assert all(torch.equal(torch.as_tensor(a[k]), torch.as_tensor(b[k])) for k in a)
    assert train_records(tmp_path / "whole") == train_records(tmp_path / "split")


def test_resume_refuses_a_decay_stretched_by_a_longer_run(tiny_config, tmp_path):
    loop.train(tiny_config("wgan-gp", *DECAY, "train.steps=2"), tmp_path / "run", progress=False)
    with pytest.raises(ConfigError, match=r"over 2 generator steps .* over 4 in the config .* train\.steps=2"):
        loop.train(tiny_config("wgan-gp", *DECAY, "train.steps=4"), tmp_path / "run", resume=True, progress=False)
