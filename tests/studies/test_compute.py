"""Training compute for comparing runs made on different hosts: FLOPs of one update, counted from the shapes, and
critic updates through a step under each schedule (n-critic's equal-compute tables and figure)."""

import pytest

from wganlab.config import load_config
from wganlab.studies import n_critic
from wganlab.studies.common import images
from wganlab.studies.common.runner import Run

TINY = ("model.generator_widths=4", "model.critic_widths=4", "train.batch_size=8")


@pytest.mark.parametrize("objective", ["gan", "wgan"])
def test_step_flops_of_a_tiny_mlp_match_the_hand_count(objective):
    """z 2 -> 4 -> 2 generator, 2 -> 4 -> 1 critic, batch 8; a product of (m x k)(k x n) is 2mkn FLOPs.
    Generator forward 2*8*2*4 + 2*8*4*2 = 256, critic forward 2*8*2*4 + 2*8*4*1 = 192.
    Critic update: generator forward without grad 256 + critic on real and fake 2*192 + their backward 2*(128 for
    the first layer's weights, the input needs none, + 64 + 64 for the second's weights and input) = 1,152.
    Generator update: generator 256 + critic 192 + critic backward to its input only (64 + 128) + generator backward
    (128 + 128 for the second layer, 128 for the first's weights) = 1,024."""
    run = Run(key="x", preset=f"eight_gaussians/{objective}", overrides=TINY)
    assert images.step_flops(run) == (1152, 1024)


def test_the_penalty_adds_its_forward_and_double_backward_and_the_count_is_repeatable():
    plain = images.step_flops(Run(key="x", preset="eight_gaussians/wgan", overrides=TINY))
    penalised = images.step_flops(Run(key="x", preset="eight_gaussians/wgan-gp", overrides=TINY))
    assert penalised[1] == plain[1]  # the generator update has no penalty
    # at least: the interpolates' forward (192), their input gradient (64 + 128) and its backward (128 + 128 + 64)
    assert penalised[0] >= plain[0] + 192 + 192 + 320
    assert images.step_flops(Run(key="x", preset="eight_gaussians/wgan-gp", overrides=TINY)) == penalised


def test_critic_updates_through_follow_the_schedule():
    fixed = load_config(None, ["objective.name=wgan", "objective.n_critic=5"]).objective
    assert images.critic_updates_through(fixed, 0)[-1] == 0
    assert images.critic_updates_through(fixed, 30)[-1] == 150
    reference = load_config(None, ["objective.name=wgan", "objective.critic_schedule=reference"]).objective
    # steps 0-24 and 500: 100 updates each; the others n_critic
    assert images.critic_updates_through(reference, 30)[-1] == 25 * 100 + 5 * reference.n_critic
    through = images.critic_updates_through(reference, 501)
    assert through[-1] == 26 * 100 + 475 * reference.n_critic
    assert len(through) == 502 and through[25] == 2500 and through[26] == 2500 + reference.n_critic


def test_n_critic_compute_is_steps_times_the_updates_flops(monkeypatch):
    monkeypatch.setattr(images, "step_flops", lambda run: (3, 2) if run.label("objective") == "wgan" else (7, 2))
    plan = n_critic.plan("default", 1)
    curves = [
        {"objective": "wgan", "variant": "ncritic-2", "step": 10},
        {"objective": "wgan-gp", "variant": "", "step": 4},
    ]
    flops = n_critic.add_compute(plan, curves)
    assert flops == {"wgan": (3, 2), "wgan-gp": (7, 2)}
    assert curves[0][n_critic.COMPUTE] == pytest.approx((10 * 2 * 3 + 10 * 2) / 1e12)
    assert curves[1][n_critic.COMPUTE] == pytest.approx((4 * 5 * 7 + 4 * 2) / 1e12)
