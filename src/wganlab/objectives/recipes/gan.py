"""The GAN recipe: the standard loss, no constraint, DCGAN's optimiser."""

from wganlab.objectives.registry import Recipe

NAME = "gan"
RECIPE = Recipe(
    NAME,
    loss="standard",
    constraint="none",
    reference="DCGAN (Radford et al. 2016): Adam 2e-4, beta1 0.5; one discriminator update per generator update",
    settings={
        "objective": {"n_critic": 1},
        "optim": {"optimizer": "adam", "generator_lr": 2e-4, "critic_lr": 2e-4, "betas": (0.5, 0.999)},
    },
)
