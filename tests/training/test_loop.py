import pytest
import torch
from torch.testing import assert_close

from wganlab.training import loop
from wganlab.training.distributed import DistContext
from wganlab.training.state import build_state

CPU = DistContext.local()


def test_generator_step_leaves_critic_gradients_empty(tiny_config):
    s = build_state(tiny_config("wgan-gp"), CPU, progress=False)
    s.critic.network.zero_grad(set_to_none=True)
    before = [p.detach().clone() for p in s.critic.network.parameters()]
    loop.generator_step(s)
    assert all(p.grad is None for p in s.critic.network.parameters())
    assert all(p.grad is not None for p in s.generator.network.parameters())
    for old, new in zip(before, s.critic.network.parameters(), strict=True):
        assert torch.equal(old, new)
    assert all(p.requires_grad for p in s.critic.network.parameters())  # unfrozen again for the critic


def test_critic_step_leaves_the_generator_untouched(tiny_config):
    s = build_state(tiny_config("gan"), CPU, progress=False)
    before = [p.detach().clone() for p in s.generator.network.parameters()]
    loop.critic_step(s, s.data.next_batch(s.local_batch_size))
    assert all(p.grad is None for p in s.generator.network.parameters())
    for old, new in zip(before, s.generator.network.parameters(), strict=True):
        assert torch.equal(old, new)


def test_every_critic_update_is_followed_by_the_clip(tiny_config, tmp_path, monkeypatch):
    clip = 0.01
    config = tiny_config("wgan", "train.steps=4", f"objective.clip_value={clip}", "optim.critic_lr=0.05")
    original = loop.critic_step
    seen = []

    def checked_critic_step(s, real):
        original(s, real)
        seen.append(max(p.abs().max().item() for p in s.critic.network.parameters()))

    monkeypatch.setattr(loop, "critic_step", checked_critic_step)
    loop.train(config, tmp_path / "run", progress=False)
    assert len(seen) == 4 * 5
    assert max(seen) <= clip
    assert_close(torch.tensor(max(seen)), torch.tensor(clip))  # the large lr pushes weights to the bound


@pytest.mark.parametrize(
    ("objective", "schedule", "steps", "critic_updates"),
    [("wgan", "constant", 6, 30), ("gan", "constant", 6, 6), ("wgan", "reference", 3, 300)],
)
def test_optimizer_step_counts_follow_algorithm_1(tiny_config, tmp_path, objective, schedule, steps, critic_updates):
    config = tiny_config(objective, f"train.steps={steps}", f"objective.critic_schedule={schedule}")
    s = loop.train(config, tmp_path / "run", progress=False)
    critic_steps = {int(state["step"]) for state in s.critic.optimizer.state.values()}
    generator_steps = {int(state["step"]) for state in s.generator.optimizer.state.values()}
    assert critic_steps == {critic_updates}
    assert generator_steps == {steps}
    assert s.images_seen == critic_updates * 32


def test_published_defaults_pick_each_papers_optimizer(tiny_config):
    wgan = build_state(tiny_config("wgan"), CPU, progress=False)
    assert isinstance(wgan.critic.optimizer, torch.optim.RMSprop)
    assert wgan.critic.optimizer.defaults["lr"] == 5e-5
    gp = build_state(tiny_config("wgan-gp"), CPU, progress=False)
    assert isinstance(gp.critic.optimizer, torch.optim.Adam)
    assert gp.critic.optimizer.defaults["betas"] == (0.0, 0.9)
    assert gp.critic.optimizer.defaults["lr"] == 1e-4


def test_batch_norm_critic_under_the_penalty_warns():
    from wganlab.objectives import GradientPenalty

    with pytest.warns(UserWarning, match="layer norm"):
        GradientPenalty(10.0).attach(torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2)), None)
