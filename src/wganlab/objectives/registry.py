"""The three registries behind `objective.loss`, `objective.constraint` and `objective.name`, and what their
plug-ins follow.

A loss (what the critic and generator optimise) and a Lipschitz constraint (how the critic is kept smooth) are
independent pieces; a recipe names one of each plus the settings its paper published. Each is one module of its
package, `losses/`, `constraints/` or `recipes/`, found by its file name (`wganlab.plugins`), so adding a loss, a
constraint or a recipe is one new file (plus its test) and nothing else. LOSSES, CONSTRAINTS and RECIPES are
read-only mappings over those files: listing their names imports nothing (no torch), and reading one imports its
module and checks its NAME.

Nothing here imports the config at run time: `config.py` reads these tables to validate names and to layer a
recipe's settings under the user's file.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from wganlab.objectives import constraints, losses, recipes
from wganlab.plugins import PluginTable

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
    """What objective.name calls it: its module's NAME."""
    loss: str
    constraint: str
    reference: str
    """Where the settings come from (paper, algorithm or table)."""
    settings: dict[str, dict[str, Any]] = field(default_factory=dict)

    def defaults(self) -> dict[str, dict[str, Any]]:
        layer = {section: dict(values) for section, values in self.settings.items()}
        layer.setdefault("objective", {}).update(loss=self.loss, constraint=self.constraint)
        return layer


LOSSES: Mapping[str, type[Loss]] = PluginTable(losses, "LOSS", "a loss module")
CONSTRAINTS: Mapping[str, type[Constraint]] = PluginTable(constraints, "CONSTRAINT", "a constraint module")
RECIPES: Mapping[str, Recipe] = PluginTable(recipes, "RECIPE", "a recipe module")
