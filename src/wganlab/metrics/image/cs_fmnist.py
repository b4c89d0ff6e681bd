"""Classifier score (F-MNIST): exp E KL(p(y|x) || p(y)) over 10 splits with our classifier's 10-way softmax in place
of Inception's 1008 (at most 10; the 10,000 real test images score 8.24, uniform noise 1.19). Not an Inception Score."""

import torch

from wganlab.metrics.inception_score import inception_score
from wganlab.metrics.inputs import GeneratorAccess

NAME = "cs_fmnist"
KEYS = ("cs_fmnist_mean", "cs_fmnist_std")
NEEDS = "generator"


def measure(access: GeneratorAccess) -> dict[str, float]:
    classifier = access.classifier()
    fake = access.generate(access.n, batch_size=500).cpu()
    with torch.no_grad():
        logits = torch.cat([classifier.logits(fake[i : i + 500]) for i in range(0, len(fake), 500)])
    mean, std = inception_score(logits, splits=10)
    return {"cs_fmnist_mean": mean, "cs_fmnist_std": std}
