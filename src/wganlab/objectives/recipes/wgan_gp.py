"""The WGAN-GP recipe: the Wasserstein loss with the gradient penalty, as in the WGAN-GP paper's Algorithm 1."""

from wganlab.objectives.registry import Recipe

NAME = "wgan-gp"
RECIPE = Recipe(
    NAME,
    loss="wasserstein",
    constraint="penalty",
    reference="WGAN-GP (Gulrajani et al. 2017), Algorithm 1: lambda 10, n_critic 5, Adam(1e-4, 0, 0.9)",
    settings={
        "objective": {"n_critic": 5, "penalty_weight": 10.0},
        "optim": {"optimizer": "adam", "generator_lr": 1e-4, "critic_lr": 1e-4, "betas": (0.0, 0.9)},
    },
)
