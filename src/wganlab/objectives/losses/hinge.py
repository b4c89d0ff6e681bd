"""The hinge loss (Lim & Ye 2017, "Geometric GAN"; Miyato et al. 2018, eq. 16-17, the SNGAN setting)."""

import torch.nn.functional as F
from torch import Tensor

NAME = "hinge"


class Hinge:
    """Critic minimises E[max(0, 1 - f(real))] + E[max(0, 1 + f(fake))]; generator minimises -E[f(fake)].

    The critic is pushed to score real data at >= 1 and fakes at <= -1 and stops caring beyond the margins.
    """

    estimate_name = "score_gap"

    @classmethod
    def from_config(cls, config, context) -> "Hinge":
        return cls()

    def critic_loss(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        return F.relu(1.0 - real_scores).mean() + F.relu(1.0 + fake_scores).mean()

    def generator_loss(self, fake_scores: Tensor) -> Tensor:
        return -fake_scores.mean()

    def estimate(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        """E[f(real)] - E[f(fake)]: a lower bound on W1 when f is 1-Lipschitz, but not what the hinge critic
        maximises (it saturates near 2 once the margins are met), hence not called a W estimate."""
        return real_scores.mean() - fake_scores.mean()


LOSS = Hinge
