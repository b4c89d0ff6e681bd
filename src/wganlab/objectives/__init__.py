"""Objectives (what the critic and generator optimise) and Lipschitz constraints, built from the config."""

from wganlab.config import ObjectiveConfig
from wganlab.objectives.constraints import GradientPenalty, LipschitzConstraint, NoConstraint, WeightClip
from wganlab.objectives.gan import StandardGAN
from wganlab.objectives.wasserstein import Wasserstein

Objective = StandardGAN | Wasserstein


def build_objective(config: ObjectiveConfig) -> tuple[Objective, LipschitzConstraint]:
    objective: Objective = StandardGAN(config.generator_loss) if config.name == "gan" else Wasserstein()
    constraint: LipschitzConstraint = {
        "none": NoConstraint,
        "clip": lambda: WeightClip(config.clip_value),
        "penalty": lambda: GradientPenalty(
            config.penalty_weight,
            one_sided=config.penalty_kind == "one_sided",
            target_norm=config.target_norm,
        ),
    }[config.resolved_constraint]()
    return objective, constraint


def critic_updates(config: ObjectiveConfig, generator_step: int) -> int:
    """Critic updates before generator update number `generator_step` (0-based).

    'reference' is the WGAN authors' code: 100 critic updates for the first 25 generator updates and every
    500th, so the critic is near optimal whenever the W-estimate is read.
    """
    if config.critic_schedule == "reference" and (generator_step < 25 or generator_step % 500 == 0):
        return 100
    return config.n_critic


__all__ = [
    "GradientPenalty",
    "LipschitzConstraint",
    "NoConstraint",
    "Objective",
    "StandardGAN",
    "Wasserstein",
    "WeightClip",
    "build_objective",
    "critic_updates",
]
