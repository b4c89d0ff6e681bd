"""The three registries behind `objective.loss`, `objective.constraint` and `objective.name`.

A loss (what the critic and generator optimise) and a Lipschitz constraint (how the critic is kept smooth) are
independent pieces; a recipe names one of each plus the settings its paper published. Each module of this
package registers what it defines when the package is imported, so adding a loss or a constraint is one new
module (plus its test) and nothing else. Registries are filled at import and read-only afterwards.

Nothing here imports the config at run time: `config.py` reads these tables to validate names and to layer a
recipe's settings under the user's file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import torch
    from torch import Tensor, nn

    from wganlab.config import ObjectiveConfig


def _no_loss_scale() -> Tensor | None:
    return None


@dataclass(frozen=True)
class BuildContext:
    """What a loss or constraint may need from the run besides its config."""

    rank: int = 0
    world_size: int = 1
    """Under torchrun, a constraint that draws per-sample randomness draws the global batch and keeps its rows."""
    loss_scale: Callable[[], Tensor | None] = _no_loss_scale
    """fp16 only: the critic's current loss scale (a device tensor), else None."""


class Loss(Protocol):
    """Critic and generator losses on raw critic scores of shape (batch,), and the quantity a run logs."""

    estimate_name: str
    """The key under which `estimate` is logged (w_estimate, js_estimate, ...)."""

    @classmethod
    def from_config(cls, config: ObjectiveConfig, context: BuildContext) -> Loss: ...

    def critic_loss(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor: ...

    def generator_loss(self, fake_scores: Tensor) -> Tensor: ...

    def estimate(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        """The divergence or distance the critic estimates from these scores (without any penalty)."""
        ...


class Constraint(Protocol):
    """Keeps the critic (near) Lipschitz. Each hook a constraint does not need is a no-op."""

    logs_penalty: bool
    """Whether `penalty` is a real term worth logging (the penalty) or always zero (clip, spectral, none)."""

    @classmethod
    def from_config(cls, config: ObjectiveConfig, context: BuildContext) -> Constraint: ...

    def attach(self, critic: nn.Module, rng: torch.Generator) -> None:
        """Runs once on the freshly initialised critic, before its optimiser exists (reparametrisations)."""
        ...

    def penalty(self, critic: nn.Module, real: Tensor, fake: Tensor, rng: torch.Generator) -> Tensor:
        """A term added to the critic loss (a zero tensor when the constraint has none)."""
        ...

    def after_critic_step(self, critic: nn.Module) -> None:
        """Runs after every critic optimiser step (weight clipping)."""
        ...


@dataclass(frozen=True)
class Recipe:
    """A published training setup: which loss and constraint, and the settings its paper used.

    `settings` holds config sections ({"optim": {...}, ...}) layered under the user's file, so naming the
    recipe is enough to get its paper's optimiser.
    """

    name: str
    loss: str
    constraint: str
    reference: str
    """Where the settings come from (paper, algorithm or table)."""
    settings: dict[str, dict[str, Any]] = field(default_factory=dict)

    def defaults(self) -> dict[str, dict[str, Any]]:
        layer = {section: dict(values) for section, values in self.settings.items()}
        layer.setdefault("objective", {}).update(loss=self.loss, constraint=self.constraint)
        return layer


LOSSES: dict[str, type[Loss]] = {}
CONSTRAINTS: dict[str, type[Constraint]] = {}
RECIPES: dict[str, Recipe] = {}


def _register(table: dict, kind: str, name: str, value: Any) -> None:
    if name in table:
        raise ValueError(f"{kind} {name!r} is registered twice")
    table[name] = value


def register_loss(name: str) -> Callable[[type], type]:
    def add(cls: type) -> type:
        _register(LOSSES, "loss", name, cls)
        return cls

    return add


def register_constraint(name: str) -> Callable[[type], type]:
    def add(cls: type) -> type:
        _register(CONSTRAINTS, "constraint", name, cls)
        return cls

    return add


def register_recipe(recipe: Recipe) -> Recipe:
    _register(RECIPES, "recipe", recipe.name, recipe)
    return recipe
