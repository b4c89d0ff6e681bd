"""The settings a study trains with: `--recipe published` (each objective's published recipe, the default) or
`--recipe seed` (the settings of the seed document whose claim the study tests).

A seed recipe is read from that seed's own presets in `configs/seeds/` (their optimiser, learning rates, betas,
n_critic, clipping bound or penalty weight, init and batch size), so the presets and the studies cannot drift
apart; only the data, the networks' size and the length stay the study's. Its length (`steps` or `epochs`) is the
seed's own: the `paper` size trains that long and the `long` size stops there at the latest.

Which study uses which seed follows which seed made the claim the study tests: loss-vs-quality, batchnorm and
clip-sweep test seed 000's claims, architecture-grid seed 002's, n-critic seed 003's (each module's SEED_RECIPE).
quality-vs-time and random-architectures test the WGAN-GP paper's claims as seed 004 (a review of that paper,
with no settings of its own) repeats them: their recipe is the published one, so they take no `--recipe seed`.
"""

from dataclasses import dataclass, field

from wganlab.config import load_config
from wganlab.errors import ConfigError

CHOICES = ("published", "seed")


@dataclass(frozen=True)
class SeedRecipe:
    name: str
    """Its key, also the suffix of its run pool: image-runs-<name>."""
    title: str
    """How reports name it, e.g. "seed 000's settings"."""
    presets: dict[str, str]
    """objective -> the seed preset its settings come from (an objective the seed did not train: absent, so it
    keeps its published recipe, at the seed's batch size)."""
    batch: int
    """The seed's batch size m (all its objectives share it)."""
    steps: int = 0
    """The seed's length in generator steps (0: see epochs)."""
    epochs: float = 0.0
    """The seed's length in passes of the critic over the training images (0: see steps)."""
    source: str = ""
    """Where in the seed each number stands (for the reports' setup text)."""
    overrides: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Per objective, settings beyond its preset's (none so far)."""

    def objective_overrides(self, objective: str) -> tuple[str, ...]:
        """The `section.key=value` settings of `objective` under this recipe (its published recipe's when the
        seed did not train it), batch size excluded (the study sets it from `batch`)."""
        if objective not in self.presets:
            return ()
        return (*preset_settings(self.presets[objective]), *self.overrides.get(objective, ()))

    @property
    def length_overrides(self) -> tuple[str, ...]:
        return (f"train.epochs={self.epochs:g}",) if self.epochs else (f"train.steps={self.steps}",)

    @property
    def length_text(self) -> str:
        return f"{self.epochs:g} epochs" if self.epochs else f"{self.steps:,} generator steps"


def preset_settings(preset: str) -> tuple[str, ...]:
    """The optimiser, objective and init settings of a preset as overrides: what makes a run train as the preset
    does on other data and networks."""
    config = load_config(preset)
    o, opt = config.objective, config.optim
    settings = [f"objective.n_critic={o.n_critic}"]
    if o.constraint == "clip":
        settings.append(f"objective.clip_value={o.clip_value:g}")
    if o.constraint == "penalty":
        settings.append(f"objective.penalty_weight={o.penalty_weight:g}")
    settings += [f"optim.optimizer={opt.optimizer}", f"optim.generator_lr={opt.generator_lr:g}",
                 f"optim.critic_lr={opt.critic_lr:g}"]  # fmt: skip
    if opt.optimizer == "adam":
        settings.append(f"optim.betas={opt.betas[0]:g},{opt.betas[1]:g}")
    settings.append(f"model.init_std={config.model.init_std:g}")
    return tuple(settings)


SEED_RECIPES = {
    # Seed 001 (WGAN notes) quotes Algorithm 1: "All experiments in the paper used the default values alpha =
    # 0.00005, c = 0.01, m = 64, n_critic = 5", RMSProp; no length ("while theta has not converged"). The toy presets
    # train WGAN at batch 256 (the WGAN-GP toy code's), so on the toys this recipe differs in m = 64 only.
    "seed001": SeedRecipe(
        name="seed001",
        title="Algorithm 1's settings (seed 001)",
        presets={"wgan": "eight_gaussians/wgan"},
        batch=64,
        source="seed 001, Algorithm 1 as it quotes it: RMSProp α = 5e-5, c = 0.01, m = 64, n_critic 5",
    ),
    # Seed 000 (WGAN implementation report, sec. I): "weight initialization (a zero-centered normal distribution
    # with standard deviation 0.02)", "learning rate as 0.0005, n_critic as 5", "gradient clipping with a value of
    # 0.005" (read as Algorithm 1's weight clipping: the seed says it differs from "the value in the paper", 0.01,
    # which is the weight clipping bound), "50K steps based on 64 batch sizes"; RMSProp as Algorithm 1 (the seed
    # names no optimiser and says it followed the paper's details). Its DCGAN keeps DCGAN's own recipe (Adam 2e-4,
    # beta1 0.5; the report gives no other), as the seed000-celeba-gan preset does; it trained no WGAN-GP, which
    # keeps the published recipe.
    "seed000": SeedRecipe(
        name="seed000",
        title="seed 000's settings",
        presets={"gan": "seeds/seed000-celeba-gan", "wgan": "seeds/seed000-celeba-wgan"},
        batch=64,
        steps=50_000,
        source="seed 000, sec. I: WGAN lr 5e-4, clipping 0.005, n_critic 5, N(0, 0.02) init, batch 64, 50K steps "
        "(RMSProp as in Algorithm 1: the seed names no optimiser; its 'gradient clipping' read as the paper's weight "
        "clipping, whose 0.01 it replaces); its GAN with DCGAN's Adam 2e-4 β (0.5, 0.999); WGAN-GP (not trained by "
        "the seed) as published",
    ),
    # Seed 002 (Investigation on GAN, WGAN and WGAN-GP), sec. 4.4, Table 1: batch 256 for all three; Adam /
    # RMSprop / Adam at 0.0002; 1 / 4 / 4 D steps per G step; clipping [-0.01, 0.01]; lambda 10; 1000 epochs.
    # Table 1 gives no Adam betas: the seed002 presets' (0.5, 0.999).
    "seed002": SeedRecipe(
        name="seed002",
        title="seed 002's settings",
        presets={
            "gan": "seeds/seed002-carvana-gan-dcgan-bn",
            "wgan": "seeds/seed002-carvana-wgan-dcgan-bn",
            "wgan-gp": "seeds/seed002-carvana-wgan-gp-dcgan-bn",
        },
        batch=256,
        epochs=1000,
        source="seed 002, sec. 4.4, Table 1: batch 256; GAN Adam, WGAN RMSprop, WGAN-GP Adam, all at 2e-4; "
        "n_critic 1 / 4 / 4; c = 0.01; λ = 10; 1,000 epochs (Adam β (0.5, 0.999): not in Table 1, the seed002 "
        "presets' choice)",
    ),
    # Seed 003 (Hao Ning's report), "Hyperparameters: Clip Weight at (-0.01,0.01), Batch size 128, Learning rate
    # 0.0001"; RMSProp ("Use RMSProp" in its list of changes from DCGAN); "train D once/twice/4 times"; samples
    # shown at "Epoch 50". Its DCGAN and WGAN-GP settings are not given: the seed003 presets' (DCGAN's Adam 2e-4
    # beta1 0.5; the WGAN-GP paper's Adam 1e-4 beta (0, 0.9), lambda 10), at its batch of 128.
    "seed003": SeedRecipe(
        name="seed003",
        title="seed 003's settings",
        presets={
            "gan": "seeds/seed003-anime-gan",
            "wgan": "seeds/seed003-anime-wgan-ncritic2",
            "wgan-gp": "seeds/seed003-anime-wgan-gp",
        },
        batch=128,
        epochs=50,
        source="seed 003, WGAN section: RMSProp, lr 1e-4, c = 0.01, batch 128, n_critic 1 / 2 / 4, 50 epochs "
        "(its figure's last epoch); WGAN-GP (no settings in the seed) with the paper's Adam 1e-4 β (0, 0.9), "
        "λ = 10 at batch 128",
    ),
}


def seed_recipe(module, recipe: str) -> SeedRecipe | None:
    """The seed recipe study `module` trains with under `--recipe recipe` (None: the published recipes).
    ConfigError for an unknown recipe, or `seed` for a study whose seed has no settings of its own."""
    if recipe not in CHOICES:
        raise ConfigError(f"unknown --recipe {recipe!r}; choose {', '.join(CHOICES)}")
    if recipe == "published":
        return None
    name = getattr(module, "SEED_RECIPE", None)
    if name is None:
        why = getattr(module, "SEED_RECIPE_NOTE", "it has no seed recipe")
        raise ConfigError(f"{module.NAME} takes no --recipe seed: {why}")
    return SEED_RECIPES[name]
