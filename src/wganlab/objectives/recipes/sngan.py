"""The SNGAN recipe: the hinge loss with spectral normalisation."""

from wganlab.objectives.registry import Recipe

NAME = "sngan"
RECIPE = Recipe(
    NAME,
    loss="hinge",
    constraint="spectral",
    reference="SNGAN (Miyato et al. 2018): hinge loss, spectral normalisation of every critic layer with one "
    "power iteration per forward; Adam(2e-4, 0, 0.9) and n_critic 5 as in its ResNet experiments; the "
    "framework's default init (its code uses Glorot), not DCGAN's N(0, 0.02)",
    settings={
        "model": {"init_std": 0.0},
        "objective": {"n_critic": 5, "power_iterations": 1},
        "optim": {"optimizer": "adam", "generator_lr": 2e-4, "critic_lr": 2e-4, "betas": (0.0, 0.9)},
    },
)
