"""Objectives: losses, Lipschitz constraints and the recipes that pair them, built from the config.

Each loss, constraint and recipe is one module of `losses/`, `constraints/` or `recipes/`, found by its file name
(see `registry` and `wganlab.plugins`), so a new file is picked up without being listed anywhere. Importing this
package imports no torch: the tables list names from the files, and a plug-in's module is imported when it is used.
"""

from importlib import import_module
from typing import Any

from wganlab.errors import ConfigError
from wganlab.objectives.registry import CONSTRAINTS, LOSSES, RECIPES, BuildContext, Constraint, Loss, Recipe
from wganlab.objectives.schedule import critic_updates

# The shipped plug-ins' classes, importable from here (`from wganlab.objectives import GradientPenalty`) and
# imported on first use. A new loss or constraint need not be added: its class is importable from its module.
_CLASSES = {
    "Hinge": "losses.hinge",
    "StandardGAN": "losses.standard",
    "Wasserstein": "losses.wasserstein",
    "GradientPenalty": "constraints.penalty",
    "NoConstraint": "constraints.none",
    "SpectralNorm": "constraints.spectral",
    "WeightClip": "constraints.clip",
}


def __getattr__(name: str) -> Any:
    if name in _CLASSES:
        return getattr(import_module(f"{__name__}.{_CLASSES[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
    "Hinge",
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
]
