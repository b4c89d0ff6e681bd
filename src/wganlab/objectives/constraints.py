"""Ways to keep the critic (near) Lipschitz. Each is apart from the objective: WGAN = Wasserstein + WeightClip,
WGAN-GP = Wasserstein + GradientPenalty, and any other pairing is a config choice."""

from typing import Protocol

import torch
from torch import Tensor, nn


class LipschitzConstraint(Protocol):
    def penalty(
        self,
        critic: nn.Module,
        real: Tensor,
        fake: Tensor,
        rng: torch.Generator,
        grad_scale: Tensor | None = None,
    ) -> Tensor:
        """A term added to the critic loss (zero when the constraint has none)."""
        ...

    def after_critic_step(self, critic: nn.Module) -> None:
        """Runs after every critic optimiser step."""
        ...


class NoConstraint:
    def penalty(self, critic, real, fake, rng, grad_scale=None) -> Tensor:
        return real.new_zeros(())

    def after_critic_step(self, critic: nn.Module) -> None:
        pass


class WeightClip:
    """WGAN, Algorithm 1, line 7: w <- clip(w, -c, c) for every critic parameter, after every critic update."""

    def __init__(self, clip_value: float):
        self.clip_value = clip_value

    def penalty(self, critic, real, fake, rng, grad_scale=None) -> Tensor:
        return real.new_zeros(())

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


class GradientPenalty:
    """WGAN-GP (Gulrajani et al. 2017, Algorithm 1, lines 6-7): lambda * E[(||grad f(x_hat)||_2 - t)^2] with
    x_hat = eps * real + (1 - eps) * fake, one eps ~ U[0, 1] per sample, the norm over all non-batch dimensions."""

    def __init__(self, weight: float, *, one_sided: bool = False, target_norm: float = 1.0):
        self.weight = weight
        self.one_sided = one_sided
        self.target_norm = target_norm
        # Under torchrun each process draws the global batch's mixes and keeps its rows (like the noise z).
        self.rank, self.world_size = 0, 1

    def penalty(
        self,
        critic: nn.Module,
        real: Tensor,
        fake: Tensor,
        rng: torch.Generator,
        grad_scale: Tensor | None = None,
    ) -> Tensor:
        norms = self.gradient_norms(critic, real, fake, rng, grad_scale)
        excess = norms - self.target_norm
        if self.one_sided:
            excess = excess.clamp_min(0.0)
        return self.weight * excess.square().mean()

    def gradient_norms(
        self,
        critic: nn.Module,
        real: Tensor,
        fake: Tensor,
        rng: torch.Generator,
        grad_scale: Tensor | None = None,
    ) -> Tensor:
        """||grad_x f(x_hat)||_2 per sample, shape (batch,), in fp32 (fp64 nets: fp64) under any autocast."""
        n = len(real)
        eps_shape = (n * self.world_size,) + (1,) * (real.dim() - 1)  # (batch, 1, ..., 1): one mix per sample
        # Rows rank, rank + world_size, ...: the same global rows as the process's real and fake samples.
        eps = torch.rand(eps_shape, generator=rng, device=real.device)[self.rank :: self.world_size]
        interpolates = (eps * real.detach() + (1 - eps) * fake.detach()).to(real.dtype).requires_grad_(True)
        total = critic(interpolates).float().sum()  # summed in fp32: an fp16 sum of many scores can overflow
        if grad_scale is not None:
            # fp16: scale before autograd.grad so small input-gradients do not underflow,
            # unscale before the norm.
            total = total * grad_scale
        (gradients,) = torch.autograd.grad(total, interpolates, create_graph=True)
        # bf16/fp16 gradients are upcast for the norm; fp64 stays fp64.
        gradients = gradients.flatten(1).to(torch.promote_types(gradients.dtype, torch.float32))
        if grad_scale is not None:
            gradients = gradients / grad_scale
        # The tiny constant keeps the norm's derivative finite where a gradient is exactly zero.
        return (gradients.square().sum(dim=1) + 1e-12).sqrt()

    def after_critic_step(self, critic: nn.Module) -> None:
        pass
