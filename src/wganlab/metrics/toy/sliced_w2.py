"""Sliced Wasserstein-2 distance to fresh real samples (200 fixed projections); for 2-D and wider toys only."""

from wganlab.metrics.inputs import ToySamples
from wganlab.metrics.transport import sliced_w2

NAME = "sliced_w2"
KEYS = ("sliced_w2",)
NEEDS = "samples"


def measure(samples: ToySamples) -> dict[str, float]:
    if samples.fake.shape[1] == 1:  # every slice of a line is the line: W1's 1-D value says it all
        return {}
    return {"sliced_w2": sliced_w2(samples.fake, samples.real)}
