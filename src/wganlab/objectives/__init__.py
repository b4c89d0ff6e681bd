"""Objectives: losses, Lipschitz constraints and the recipes that pair them, built from the config.

Every module in this package registers its losses, constraints or recipes on import (see `registry`); the
package imports them all, so a new file is picked up without being listed anywhere.
"""

import pkgutil
from importlib import import_module

from wganlab.errors import ConfigError
from wganlab.objectives.registry import (
    CONSTRAINTS,
    LOSSES,
    RECIPES,
    BuildContext,
    Constraint,
    Loss,
    Recipe,
    register_constraint,
    register_loss,
    register_recipe,
)

for _module in pkgutil.iter_modules(__path__):
    import_module(f"{__name__}.{_module.name}")

from wganlab.objectives.constraints import GradientPenalty, NoConstraint, WeightClip  # noqa: E402
from wganlab.objectives.schedule import critic_updates  # noqa: E402
from wganlab.objectives.spectral import SpectralNorm  # noqa: E402
from wganlab.objectives.standard import StandardGAN  # noqa: E402
from wganlab.objectives.wasserstein import Wasserstein  # noqa: E402


def estimate_name(recipe: str) -> str:
    """The key under which runs of `recipe` log their critic's estimate (w_estimate, js_estimate, score_gap)."""
    return LOSSES[RECIPES[recipe].loss].estimate_name


def build_objective(config, context: BuildContext | None = None) -> tuple[Loss, Constraint]:
    """(loss, constraint) named by an ObjectiveConfig."""
    context = context or BuildContext()
    for kind, name, table in (("loss", config.loss, LOSSES), ("constraint", config.constraint, CONSTRAINTS)):
        if name not in table:
            raise ConfigError(f"objective.{kind}={name!r} is not one of {', '.join(table)}")
    return LOSSES[config.loss].from_config(config, context), CONSTRAINTS[config.constraint].from_config(config, context)


__all__ = [
    "CONSTRAINTS",
    "LOSSES",
    "RECIPES",
    "BuildContext",
    "Constraint",
    "GradientPenalty",
    "Loss",
    "NoConstraint",
    "Recipe",
    "SpectralNorm",
    "StandardGAN",
    "Wasserstein",
    "WeightClip",
    "build_objective",
    "estimate_name",
    "critic_updates",
    "register_constraint",
    "register_loss",
    "register_recipe",
]
