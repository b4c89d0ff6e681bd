"""Weight clipping (WGAN, Arjovsky et al. 2017)."""

import torch
from torch import nn

from wganlab.objectives.constraints.none import NoConstraint
from wganlab.objectives.registry import BuildContext

NAME = "clip"


class WeightClip(NoConstraint):
    """WGAN, Algorithm 1, line 7: w <- clip(w, -c, c) for every critic parameter, after every critic update."""

    def __init__(self, clip_value: float):
        self.clip_value = clip_value

    @classmethod
    def from_config(cls, config, context: BuildContext) -> "WeightClip":
        return cls(config.clip_value)

    @torch.no_grad()
    def after_critic_step(self, critic: nn.Module) -> None:
        params = list(critic.parameters())
        if params and params[0].is_cuda:
            # One fused kernel per bound over all tensors instead of a clamp launch per parameter.
            torch._foreach_clamp_min_(params, -self.clip_value)
            torch._foreach_clamp_max_(params, self.clip_value)
        else:
            # On CPU the foreach ops loop over the tensors anyway; one clamp per tensor reads it once, not twice.
            for param in params:
                param.clamp_(-self.clip_value, self.clip_value)


CONSTRAINT = WeightClip
