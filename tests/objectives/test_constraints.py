import pytest
import torch
from torch import nn
from torch.testing import assert_close

from wganlab.objectives import GradientPenalty, NoConstraint, WeightClip


class LinearCritic(nn.Module):
    """f(x) = <w, x> over all non-batch dimensions: gradient w everywhere, so the norm is ||w||."""

    def __init__(self, weight: torch.Tensor):
        super().__init__()
        self.weight = nn.Parameter(weight)

    def forward(self, x):
        return (x * self.weight).flatten(1).sum(1)


@pytest.mark.parametrize("shape", [(2,), (1, 4, 4), (3, 4, 4)])
def test_penalty_of_linear_critic_is_lambda_times_norm_minus_one_squared(shape):
    weight = torch.zeros(shape)
    weight.view(-1)[:2] = torch.tensor([3.0, 4.0])  # ||w|| = 5 over the flattened sample
    critic = LinearCritic(weight)
    real, fake = torch.randn(6, *shape), torch.randn(6, *shape)
    penalty = GradientPenalty(10.0).penalty(critic, real, fake, torch.Generator().manual_seed(0))
    assert_close(penalty, torch.tensor(10.0 * (5.0 - 1.0) ** 2))  # 160 for any eps


def test_penalty_uses_a_flattened_norm_not_a_per_row_norm():
    weight = torch.arange(1.0, 3 * 4 * 4 + 1).view(3, 4, 4) / 50
    critic = LinearCritic(weight)
    real, fake = torch.randn(3, 3, 4, 4), torch.randn(3, 3, 4, 4)
    penalty = GradientPenalty(1.0).penalty(critic, real, fake, torch.Generator().manual_seed(0))
    assert_close(penalty, (weight.norm() - 1) ** 2)


def test_penalty_draws_one_eps_per_sample_and_differentiates_at_the_interpolates():
    class Quadratic(nn.Module):
        def forward(self, x):  # gradient 2x, norm 2||x||: depends on where the interpolate lies
            return x.square().flatten(1).sum(1)

    real = torch.randn(5, 2, 3, 3)
    fake = torch.randn(5, 2, 3, 3)
    norms = GradientPenalty(1.0).gradient_norms(Quadratic(), real, fake, torch.Generator().manual_seed(7))
    eps = torch.rand(5, 1, 1, 1, generator=torch.Generator().manual_seed(7))  # the same draw, by hand
    interpolates = eps * real + (1 - eps) * fake
    assert_close(norms, 2 * interpolates.flatten(1).norm(dim=1))
    assert len(eps.unique()) == 5


def test_one_sided_penalty_ignores_norms_below_target_and_target_norm_moves_the_minimum():
    small = LinearCritic(torch.tensor([0.3, 0.4]))  # ||w|| = 0.5
    real, fake = torch.randn(4, 2), torch.randn(4, 2)
    rng = torch.Generator().manual_seed(0)
    assert_close(GradientPenalty(10.0, one_sided=True).penalty(small, real, fake, rng), torch.tensor(0.0))
    assert_close(GradientPenalty(10.0).penalty(small, real, fake, rng), torch.tensor(10 * 0.25))
    assert_close(GradientPenalty(2.0, target_norm=0.5).penalty(small, real, fake, rng), torch.tensor(0.0))


def test_penalty_gradient_reaches_the_critic_parameters():
    critic = LinearCritic(torch.tensor([3.0, 4.0]))
    penalty = GradientPenalty(10.0).penalty(critic, torch.randn(4, 2), torch.randn(4, 2), torch.Generator())
    penalty.backward()
    # d/dw 10 (||w|| - 1)^2 = 20 (||w|| - 1) w / ||w||
    assert_close(critic.weight.grad, 20 * 4 * torch.tensor([3.0, 4.0]) / 5)


def test_weight_clip_clamps_every_parameter_and_leaves_small_ones_alone():
    critic = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4), nn.Linear(4, 1))
    with torch.no_grad():
        critic[0].weight.copy_(torch.linspace(-1, 1, 12).view(4, 3))
        critic[2].weight.fill_(0.004)
    before = [p.detach().clone() for p in critic.parameters()]
    WeightClip(0.01).after_critic_step(critic)
    for old, new in zip(before, critic.parameters(), strict=True):
        assert_close(new.detach(), old.clamp(-0.01, 0.01))
        assert new.abs().max() <= 0.01
    assert_close(critic[2].weight.detach(), torch.full((1, 4), 0.004))  # already inside: unchanged


def test_constraints_without_a_penalty_add_zero():
    real = torch.randn(3, 2)
    for constraint in (NoConstraint(), WeightClip(0.1)):
        assert_close(constraint.penalty(nn.Linear(2, 1), real, real, torch.Generator()), torch.tensor(0.0))
