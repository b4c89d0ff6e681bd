"""An exponential moving average (EMA) of the generator's weights (Karras et al. 2018, Yazıcı et al. 2019): the
averaged generator usually draws better samples than the raw one, whose weights still oscillate around where the
game is heading. It changes nothing in training: the average is a copy the loop updates and never trains.

After the generator update of step t (t = 0 for the first), with beta = train.ema_decay:

    decay_t = min(beta, (1 + t) / (10 + t))
    ema     <- decay_t * ema + (1 - decay_t) * weights        (every parameter, in the parameters' fp32)

The (1 + t) / (10 + t) warm-up is TensorFlow's ExponentialMovingAverage(num_updates=t), the one lucidrains'
ema-pytorch and many GAN codes use: early on, when the average would be dominated by the random initial weights,
it follows the generator closely (decay 0.1 at t = 0, 0.5 at t = 8, 0.9 at t = 80, 0.99 at t = 890, 0.999 at
t = 8,990), and from then on beta holds. stylegan2-ada's ema_kimg/ema_rampup and StudioGAN's ema_start do the same
job: a constant beta is a half-life of ln(0.5) / ln(beta) generator steps (693 steps at beta = 0.999).

Buffers (batch norm's running mean and variance, its batch counter) are copied from the generator after every
update, not averaged, as stylegan2-ada and StudioGAN do: the running statistics are themselves an average over
recent batches, of the raw generator's activations, which the averaged weights approximate as they approximate
its outputs. (Re-estimating them for the EMA weights, StudioGAN's "standing statistics", costs extra passes.)
"""

import copy

import torch
from torch import nn


def ema_decay_at(beta: float, step: int) -> float:
    """The decay of the update after generator step `step` (0 for the first): min(beta, (1 + t) / (10 + t))."""
    return min(beta, (1 + step) / (10 + step))


class GeneratorEMA:
    """The averaged generator (`network`, never trained: no gradients) and its update."""

    def __init__(self, generator: nn.Module, beta: float):
        self.beta = beta
        self.network = copy.deepcopy(generator).requires_grad_(False)

    @torch.no_grad()
    def update(self, generator: nn.Module, step: int) -> None:
        """ema <- decay_t * ema + (1 - decay_t) * weights, buffers copied; after the generator update of `step`."""
        decay = ema_decay_at(self.beta, step)
        averaged, current = list(self.network.parameters()), [p.detach() for p in generator.parameters()]
        # lerp(ema, weights, 1 - decay) = ema + (1 - decay) * (weights - ema): one fused op over all tensors.
        torch._foreach_lerp_(averaged, current, 1.0 - decay)
        for mine, theirs in zip(self.network.buffers(), generator.buffers(), strict=True):
            mine.copy_(theirs)
