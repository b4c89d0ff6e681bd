"""Fréchet distance in our Fashion-MNIST classifier's 128-d features (fast, not an FID): n generated images against
every real one. The classifier is small: it runs on the CPU whatever device trains, on 28 px copies of the images."""

import numpy
from torch import Tensor

from wganlab.metrics.classifier import classifier_features, fd_fmnist
from wganlab.metrics.inputs import GeneratorAccess

NAME = "fd_fmnist"
KEYS = ("fd_fmnist",)
NEEDS = "generator"

_REFERENCES: dict[str, Tensor] = {}  # runs in one process (tests, notebooks, evaluations) share the reference


def measure(access: GeneratorAccess) -> dict[str, float]:
    classifier = access.classifier()
    if access.data_key not in _REFERENCES:
        _REFERENCES[access.data_key] = classifier_features(numpy.asarray(access.real_images()), classifier)
    fake = access.generate(access.n, batch_size=500).cpu()
    return {"fd_fmnist": fd_fmnist(classifier_features(fake, classifier), _REFERENCES[access.data_key])}
