"""Fréchet Inception Distance: the Fréchet distance of Gaussians fitted to the fakes' and the reals' Inception
pool features (Heusel et al. 2017)."""

from wganlab.metrics.fid import feature_statistics, frechet_distance
from wganlab.metrics.inputs import InceptionPass

NAME = "fid"
KEYS = ("fid",)
NEEDS = "inception_features"


def measure(inception: InceptionPass) -> dict[str, float]:
    reference = inception.reference
    return {"fid": frechet_distance(*feature_statistics(inception.features), reference.mean, reference.covariance)}
