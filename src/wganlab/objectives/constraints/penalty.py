"""The gradient penalty (WGAN-GP, Gulrajani et al. 2017)."""

import warnings
from collections.abc import Callable

import torch
from torch import Tensor, nn

from wganlab.models import has_batch_norm
from wganlab.objectives.constraints.none import NoConstraint
from wganlab.objectives.registry import BuildContext

NAME = "penalty"


class GradientPenalty(NoConstraint):
    """WGAN-GP (Gulrajani et al. 2017, Algorithm 1, lines 6-7): lambda * E[(||grad f(x_hat)||_2 - t)^2] with
    x_hat = eps * real + (1 - eps) * fake, one eps ~ U[0, 1] per sample, the norm over all non-batch dimensions.

    Under torchrun each process draws the global batch's mixes and keeps its rows (like the noise z), so `rank`
    and `world_size` are fixed at construction. Under fp16, `loss_scale()` gives the critic's current loss
    scale: the inner gradient is taken at that scale so small input-gradients do not underflow, then unscaled
    before the norm (PyTorch's AMP gradient-penalty recipe).
    """

    logs_penalty = True

    def __init__(
        self,
        weight: float,
        *,
        one_sided: bool = False,
        target_norm: float = 1.0,
        rank: int = 0,
        world_size: int = 1,
        loss_scale: Callable[[], Tensor | None] | None = None,
    ):
        self.weight = weight
        self.one_sided = one_sided
        self.target_norm = target_norm
        self.rank, self.world_size = rank, world_size
        self.loss_scale = loss_scale or (lambda: None)

    @classmethod
    def from_config(cls, config, context: BuildContext) -> "GradientPenalty":
        return cls(
            config.penalty_weight,
            one_sided=config.penalty_kind == "one_sided",
            target_norm=config.target_norm,
            rank=context.rank,
            world_size=context.world_size,
            loss_scale=context.loss_scale,
        )

    def attach(self, critic: nn.Module, rng: torch.Generator) -> None:
        if has_batch_norm(critic):
            # The penalty is defined per sample; batch norm couples the samples of a batch.
            warnings.warn(
                "the critic has batch norm, which the gradient penalty's per-sample gradients assume away; "
                "WGAN-GP replaces it with layer norm (set model.critic_norm='layer')",
                stacklevel=2,
            )

    def penalty(self, critic: nn.Module, real: Tensor, fake: Tensor, rng: torch.Generator) -> Tensor:
        excess = self.gradient_norms(critic, real, fake, rng) - self.target_norm
        if self.one_sided:
            excess = excess.clamp_min(0.0)
        return self.weight * excess.square().mean()

    def gradient_norms(self, critic: nn.Module, real: Tensor, fake: Tensor, rng: torch.Generator) -> Tensor:
        """||grad_x f(x_hat)||_2 per sample, shape (batch,), in fp32 (fp64 nets: fp64) under any autocast."""
        n = len(real)
        eps_shape = (n * self.world_size,) + (1,) * (real.dim() - 1)  # (batch, 1, ..., 1): one mix per sample
        # Rows rank, rank + world_size, ...: the same global rows as the process's real and fake samples.
        eps = torch.rand(eps_shape, generator=rng, device=real.device)[self.rank :: self.world_size]
        interpolates = (eps * real.detach() + (1 - eps) * fake.detach()).to(real.dtype).requires_grad_(True)
        total = critic(interpolates).float().sum()  # summed in fp32: an fp16 sum of many scores can overflow
        scale = self.loss_scale()
        if scale is not None:
            total = total * scale
        (gradients,) = torch.autograd.grad(total, interpolates, create_graph=True)
        # bf16/fp16 gradients are upcast for the norm; fp64 stays fp64.
        gradients = gradients.flatten(1).to(torch.promote_types(gradients.dtype, torch.float32))
        if scale is not None:
            gradients = gradients / scale
        # The tiny constant keeps the norm's derivative finite where a gradient is exactly zero.
        return (gradients.square().sum(dim=1) + 1e-12).sqrt()


CONSTRAINT = GradientPenalty
