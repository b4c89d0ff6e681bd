import math

import torch
from torch.testing import assert_close

from wganlab.config import ObjectiveConfig
from wganlab.objectives import StandardGAN, Wasserstein, critic_updates


def test_gan_losses_at_zero_logits_match_hand_values():
    zeros = torch.zeros(5)
    gan = StandardGAN("non_saturating")
    # D = sigmoid(0) = 1/2: -log(1/2) for real plus -log(1 - 1/2) for fake.
    assert_close(gan.critic_loss(zeros, zeros), torch.tensor(2 * math.log(2)))
    assert_close(gan.generator_loss(zeros), torch.tensor(math.log(2)))
    assert_close(StandardGAN("minimax").generator_loss(zeros), torch.tensor(-math.log(2)))
    # At D = 1/2 everywhere the JS estimate (V + log 4) / 2 is exactly zero.
    assert_close(gan.estimate(zeros, zeros), torch.tensor(0.0))


def test_gan_losses_on_nonzero_logits():
    real, fake = torch.tensor([2.0, -1.0]), torch.tensor([0.5, 3.0])
    sigmoid = torch.sigmoid
    expected_critic = -(torch.log(sigmoid(real)).mean() + torch.log(1 - sigmoid(fake)).mean())
    assert_close(StandardGAN().critic_loss(real, fake), expected_critic)
    assert_close(StandardGAN("non_saturating").generator_loss(fake), -torch.log(sigmoid(fake)).mean())
    assert_close(StandardGAN("minimax").generator_loss(fake), torch.log(1 - sigmoid(fake)).mean())


def test_gan_estimate_is_log4_minus_the_critic_loss_over_two():
    real, fake = torch.tensor([2.0, -1.0]), torch.tensor([0.5, 3.0])
    gan = StandardGAN()
    assert_close(gan.estimate(real, fake), (math.log(4) - gan.critic_loss(real, fake)) / 2)


def test_gan_loss_is_finite_for_extreme_logits():
    huge = torch.tensor([1e4, -1e4])
    assert torch.isfinite(StandardGAN().critic_loss(huge, -huge))
    assert_close(StandardGAN().critic_loss(huge.abs(), -huge.abs()), torch.tensor(0.0))


def test_wasserstein_losses_match_hand_values():
    real, fake = torch.tensor([1.0, 2.0, 3.0]), torch.zeros(3)
    objective = Wasserstein()
    critic_loss = objective.critic_loss(real, fake)
    assert_close(critic_loss, torch.tensor(-2.0))
    assert_close(objective.estimate(real, fake), torch.tensor(2.0))
    assert_close(objective.generator_loss(torch.tensor([1.0, -3.0])), torch.tensor(1.0))


def test_critic_schedule_constant_and_reference():
    constant = ObjectiveConfig(name="wgan", n_critic=5)
    assert [critic_updates(constant, step) for step in (0, 24, 25, 500)] == [5, 5, 5, 5]
    reference = ObjectiveConfig(name="wgan", n_critic=5, critic_schedule="reference")
    got = [critic_updates(reference, step) for step in (0, 24, 25, 26, 499, 500, 501, 1000)]
    assert got == [100, 100, 5, 5, 5, 100, 5, 100]


def test_each_recipe_logs_its_estimate_under_its_losss_name():
    # Read from the registries (recipe -> loss -> estimate_name), so a new loss needs no table elsewhere.
    from wganlab.objectives import estimate_name

    assert [estimate_name(r) for r in ("gan", "wgan", "wgan-gp", "sngan")] == [
        "js_estimate",
        "w_estimate",
        "w_estimate",
        "score_gap",
    ]
