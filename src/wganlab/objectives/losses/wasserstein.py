"""The Wasserstein loss (Arjovsky et al. 2017), shared by WGAN and WGAN-GP."""

from torch import Tensor

NAME = "wasserstein"


class Wasserstein:
    """Critic maximises E[f(real)] - E[f(fake)]; scores are unbounded (WGAN, Algorithm 1, lines 5 and 10).

    With f (K-)Lipschitz, the maximum is K times the Wasserstein-1 distance (Kantorovich-Rubinstein duality).
    """

    estimate_name = "w_estimate"

    @classmethod
    def from_config(cls, config, context) -> "Wasserstein":
        return cls()

    def critic_loss(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        return fake_scores.mean() - real_scores.mean()

    def generator_loss(self, fake_scores: Tensor) -> Tensor:
        return -fake_scores.mean()

    def estimate(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        """E[f(real)] - E[f(fake)], the critic's estimate of W (the penalty is not part of it)."""
        return real_scores.mean() - fake_scores.mean()


LOSS = Wasserstein
