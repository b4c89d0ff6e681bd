"""Inception Score (Salimans et al. 2016) from the 2015 TF Inception's 1008-way logits: needs --inception-weights.

The file is named after the metric (`is`, a Python keyword): it is only ever imported by name, through the registry.
"""

from wganlab.metrics.inception_score import inception_score
from wganlab.metrics.inputs import InceptionPass

NAME = "is"
KEYS = ("is_mean", "is_std")
NEEDS = "inception_logits"


def measure(inception: InceptionPass) -> dict[str, float]:
    mean, std = inception_score(inception.logits, splits=inception.is_splits)
    return {"is_mean": mean, "is_std": std}
