"""The standard GAN loss (Goodfellow et al. 2014), on raw critic scores (logits)."""

import math

import torch.nn.functional as F
from torch import Tensor

NAME = "standard"


class StandardGAN:
    """Discriminator D = sigmoid(score) maximises E[log D(real)] + E[log(1 - D(fake))].

    Written with softplus, which is BCE-with-logits without forming the sigmoid: -log sigmoid(s) = softplus(-s)
    and -log(1 - sigmoid(s)) = softplus(s), stable for any score.
    """

    estimate_name = "js_estimate"

    def __init__(self, generator_loss: str = "non_saturating"):
        self.non_saturating = generator_loss == "non_saturating"

    @classmethod
    def from_config(cls, config, context) -> "StandardGAN":
        return cls(config.generator_loss)

    def critic_loss(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        """-V(D, G): the binary cross-entropy of calling real 1 and fake 0."""
        return F.softplus(-real_scores).mean() + F.softplus(fake_scores).mean()

    def generator_loss(self, fake_scores: Tensor) -> Tensor:
        if self.non_saturating:
            return F.softplus(-fake_scores).mean()  # -log D(G(z)): strong gradients early (Goodfellow, sec. 3)
        return -F.softplus(fake_scores).mean()  # log(1 - D(G(z))): the minimax game as written

    def estimate(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        """JS divergence estimate (V + log 4) / 2, exact when the discriminator is optimal (Prop. 1 / Thm. 1)."""
        return (math.log(4.0) - self.critic_loss(real_scores, fake_scores)) / 2


LOSS = StandardGAN
