"""Mixture toys: the modes hit and the share of high-quality samples (PacGAN's protocol); nothing for the others."""

from wganlab.metrics.inputs import ToySamples
from wganlab.metrics.transport import mode_coverage

NAME = "modes"
KEYS = ("modes_hit", "modes_total", "high_quality_share")
NEEDS = "samples"


def measure(samples: ToySamples) -> dict[str, float]:
    if samples.centres is None:
        return {}
    return mode_coverage(samples.fake, samples.centres, samples.mode_std)
