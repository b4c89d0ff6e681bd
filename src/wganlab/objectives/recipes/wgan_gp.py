"""The published recipes `objective.name` selects: a loss, a constraint and their paper's settings."""

from wganlab.objectives.registry import Recipe, register_recipe

register_recipe(
    Recipe(
        "gan",
        loss="standard",
        constraint="none",
        reference="DCGAN (Radford et al. 2016): Adam 2e-4, beta1 0.5; one discriminator update per generator update",
        settings={
            "objective": {"n_critic": 1},
            "optim": {"optimizer": "adam", "generator_lr": 2e-4, "critic_lr": 2e-4, "betas": (0.5, 0.999)},
        },
    )
)
register_recipe(
    Recipe(
        "wgan",
        loss="wasserstein",
        constraint="clip",
        reference="WGAN (Arjovsky et al. 2017), Algorithm 1: alpha 5e-5, c 0.01, m 64, n_critic 5, RMSProp",
        settings={
            "objective": {"n_critic": 5, "clip_value": 0.01},
            "optim": {"optimizer": "rmsprop", "generator_lr": 5e-5, "critic_lr": 5e-5},
            "train": {"batch_size": 64},
        },
    )
)
register_recipe(
    Recipe(
        "wgan-gp",
        loss="wasserstein",
        constraint="penalty",
        reference="WGAN-GP (Gulrajani et al. 2017), Algorithm 1: lambda 10, n_critic 5, Adam(1e-4, 0, 0.9)",
        settings={
            "objective": {"n_critic": 5, "penalty_weight": 10.0},
            "optim": {"optimizer": "adam", "generator_lr": 1e-4, "critic_lr": 1e-4, "betas": (0.0, 0.9)},
        },
    )
)
register_recipe(
    Recipe(
        "sngan",
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
)
