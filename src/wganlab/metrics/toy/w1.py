"""Exact Wasserstein-1 distance to fresh real samples (POT's network simplex; 1-D in closed form)."""

from wganlab.metrics.inputs import ToySamples
from wganlab.metrics.transport import exact_w1

NAME = "w1"
KEYS = ("w1",)
NEEDS = "samples"


def measure(samples: ToySamples) -> dict[str, float]:
    return {"w1": exact_w1(samples.fake, samples.real)}
