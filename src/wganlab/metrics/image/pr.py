"""Improved precision and recall (Kynkäänniemi et al. 2019): k-NN manifolds of real and fake Inception features."""

from wganlab.metrics.inputs import InceptionPass
from wganlab.metrics.precision_recall import precision_recall

NAME = "pr"
KEYS = ("precision", "recall")
NEEDS = "inception_features"


def measure(inception: InceptionPass) -> dict[str, float]:
    precision, recall = precision_recall(inception.reference.features, inception.features, k=inception.pr_k)
    return {"precision": precision, "recall": recall}
