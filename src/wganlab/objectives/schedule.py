"""How many critic updates precede each generator update."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from wganlab.config import ObjectiveConfig


def critic_updates(config: ObjectiveConfig, generator_step: int) -> int:
    """Critic updates before generator update number `generator_step` (0-based).

    'reference' is the WGAN authors' code: 100 critic updates for the first 25 generator updates and every
    500th, so the critic is near optimal whenever the W-estimate is read.
    """
    if config.critic_schedule == "reference" and (generator_step < 25 or generator_step % 500 == 0):
        return 100
    return config.n_critic
