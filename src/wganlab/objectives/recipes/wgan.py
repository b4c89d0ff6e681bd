"""The WGAN recipe: the Wasserstein loss with weight clipping, as in the WGAN paper's Algorithm 1."""

from wganlab.objectives.registry import Recipe

NAME = "wgan"
RECIPE = Recipe(
    NAME,
    loss="wasserstein",
    constraint="clip",
    reference="WGAN (Arjovsky et al. 2017), Algorithm 1: alpha 5e-5, c 0.01, m 64, n_critic 5, RMSProp",
    settings={
        "objective": {"n_critic": 5, "clip_value": 0.01},
        "optim": {"optimizer": "rmsprop", "generator_lr": 5e-5, "critic_lr": 5e-5},
        "train": {"batch_size": 64},
    },
)
