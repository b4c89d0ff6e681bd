"""Kernel Inception Distance: the unbiased MMD² with a cubic polynomial kernel on Inception features, averaged over
random subsets (Bińkowski et al. 2018); no kid_std when one subset is the whole set."""

from wganlab.metrics.inputs import InceptionPass
from wganlab.metrics.kid import kid_values

NAME = "kid"
KEYS = ("kid_mean", "kid_std", "kid_subset_size", "kid_subsets")
NEEDS = "inception_features"


def measure(inception: InceptionPass) -> dict[str, float]:
    real = inception.reference.features
    return kid_values(inception.features, real, inception.rng, inception.kid_subsets, inception.kid_subset_size)
