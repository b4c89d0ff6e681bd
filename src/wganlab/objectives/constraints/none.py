"""No constraint (the standard GAN): every hook a no-op, the base the other constraints inherit what they skip."""

import torch
from torch import Tensor, nn

from wganlab.objectives.registry import BuildContext

NAME = "none"


class NoConstraint:
    logs_penalty = False

    @classmethod
    def from_config(cls, config, context: BuildContext) -> "NoConstraint":
        return cls()

    def attach(self, critic: nn.Module, rng: torch.Generator) -> None:
        pass

    def penalty(self, critic: nn.Module, real: Tensor, fake: Tensor, rng: torch.Generator) -> Tensor:
        return real.new_zeros(())

    def after_critic_step(self, critic: nn.Module) -> None:
        pass


CONSTRAINT = NoConstraint
