"""Stacked Fashion-MNIST: of its 1,000 class triples, the modes covered and KL(generated || uniform) in nats, from
our classifier's class per channel (`metrics/stacked_modes.py`). The n samples are drawn and classified 1,000 at a
time, so 26,000 never sit in memory as images."""

import torch

from wganlab.metrics.inputs import GeneratorAccess
from wganlab.metrics.stacked_modes import channel_classes, mode_counts

NAME = "modes_stacked"
KEYS = ("modes_stacked_kl", "modes_stacked_covered")
NEEDS = "generator"


def measure(access: GeneratorAccess) -> dict[str, float]:
    classifier, classes = access.classifier(), []
    for start in range(0, access.n, 1000):
        fake = access.check_finite(access.generate(min(1000, access.n - start)))
        classes.append(channel_classes(fake.cpu(), classifier))
    return mode_counts(torch.cat(classes))
