import torch
from torch.testing import assert_close

from wganlab.config import load_config
from wganlab.objectives import LOSSES, Hinge, build_objective


def test_hinge_losses_match_hand_values():
    real, fake = torch.tensor([2.0, 0.5, -1.0]), torch.tensor([-2.0, 0.0, 1.5])
    hinge = Hinge()
    # mean(max(0, 1 - real)) = mean(0, 0.5, 2) = 2.5/3; mean(max(0, 1 + fake)) = mean(0, 1, 2.5) = 3.5/3.
    assert_close(hinge.critic_loss(real, fake), torch.tensor(2.0))
    assert_close(hinge.generator_loss(fake), torch.tensor(0.5 / 3))  # -mean(-2, 0, 1.5)
    assert_close(hinge.estimate(real, fake), torch.tensor(2.0 / 3))  # mean(real) - mean(fake) = 0.5 + 1/6


def test_hinge_critic_loss_is_zero_once_the_margins_are_met():
    assert_close(Hinge().critic_loss(torch.tensor([1.0, 5.0]), torch.tensor([-1.0, -7.0])), torch.tensor(0.0))


def test_hinge_is_registered_and_chosen_by_the_sngan_recipe():
    assert LOSSES["hinge"] is Hinge
    config = load_config(None, ["objective.name=sngan"])
    loss, constraint = build_objective(config.objective)
    assert isinstance(loss, Hinge) and type(constraint).__name__ == "SpectralNorm"
    assert (config.optim.critic_lr, config.optim.betas, config.objective.n_critic) == (2e-4, (0.0, 0.9), 5)
