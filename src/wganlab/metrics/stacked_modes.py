"""Mode counts on Stacked Fashion-MNIST (`modes_stacked`): how many of the 1,000 class triples a generator covers.

The protocol of Stacked MNIST (Metz et al. 2017, "Unrolled Generative Adversarial Networks"; VEEGAN; PacGAN): a
classifier labels each colour channel of a generated image on its own, the three classes (R, G, B) name one of
10^3 = 1,000 modes, mode id = 100 * class(R) + 10 * class(G) + class(B). Over n samples (26,000 in PacGAN's code
for the VEEGAN protocol, `PROTOCOL_SAMPLES`) it reports the modes covered (hit at least once) and
KL(generated mode histogram || uniform over 1,000) in nats; a generator that spreads its samples evenly over
every mode has KL near 0, one that puts them all in one mode has ln(1000) = 6.91.

The classifier is the project's own Fashion-MNIST net (`metrics.classifier`), applied per channel exactly as it
scores grayscale images: each channel, in [-1, 1] (or uint8), is rounded to 8-bit levels and resized to 28 px with
antialiased bilinear interpolation when it is not 28 px (so 32 px images, padded by 2 px or resized from 28, land
in what it was trained on). Its errors put real images in wrong modes too, so `real_ceiling` measures the same
numbers on real stacked images: the best a generator can be expected to score with this classifier.
"""

import numpy as np
import torch
from torch import Tensor

from wganlab.metrics.classifier import FashionClassifierFeatures, MetricInputError

NUM_CLASSES = 10
NUM_MODES = NUM_CLASSES**3
PROTOCOL_SAMPLES = 26_000


@torch.no_grad()
def channel_classes(
    images: Tensor | np.ndarray, classifier: FashionClassifierFeatures, batch_size: int = 500
) -> Tensor:
    """(N, 3) int64 classes 0..9 of each channel of (N, 3, S, S) images (float in [-1, 1] or uint8)."""
    tensor = torch.from_numpy(np.ascontiguousarray(images)) if isinstance(images, np.ndarray) else images
    if tensor.ndim != 4 or tensor.shape[1] != 3 or len(tensor) == 0:
        raise MetricInputError(
            f"modes_stacked needs 3-channel images (N >= 1, 3, S, S), one Fashion-MNIST image per channel; got shape "
            f"{tuple(tensor.shape)} (train on the stacked-fashion-mnist dataset with data.channels=3)"
        )
    chunks = []
    for start in range(0, len(tensor), batch_size):
        batch = tensor[start : start + batch_size].cpu()
        chunks.append(torch.stack([classifier.logits(batch[:, c : c + 1]).argmax(1) for c in range(3)], dim=1))
    return torch.cat(chunks)


def mode_ids(classes: Tensor) -> Tensor:
    """(N, 3) classes -> (N,) mode ids 0..999: 100 * R + 10 * G + B."""
    return classes[:, 0] * 100 + classes[:, 1] * 10 + classes[:, 2]


def mode_histogram(ids: Tensor) -> Tensor:
    """(1000,) int64 counts of each mode id."""
    return torch.bincount(ids.long().cpu(), minlength=NUM_MODES)


def kl_to_uniform(counts: Tensor) -> float:
    """KL(p || uniform over the 1,000 modes) in nats, p = counts / their sum: sum over p > 0 of p ln(1000 p)."""
    p = counts.double() / counts.sum()
    p = p[p > 0]
    return float((p * torch.log(p * NUM_MODES)).sum())


def mode_counts(classes: Tensor) -> dict[str, float]:
    """{"modes_stacked_kl", "modes_stacked_covered"} of (N, 3) channel classes."""
    counts = mode_histogram(mode_ids(classes))
    return {"modes_stacked_kl": kl_to_uniform(counts), "modes_stacked_covered": int((counts > 0).sum())}


def modes_stacked(images: Tensor | np.ndarray, classifier: FashionClassifierFeatures | None = None) -> dict:
    """The metric on (N, 3, S, S) images: modes covered (of 1,000) and KL to uniform (nats)."""
    return mode_counts(channel_classes(images, classifier or FashionClassifierFeatures()))


def real_ceiling(
    images: np.ndarray, labels: np.ndarray, classifier: FashionClassifierFeatures | None = None
) -> dict[str, float]:
    """The same counts on real stacked images (N, 3, S, S) with their (N, 3) true classes, plus how often the
    classifier is right: per channel (accuracy_r, _g, _b), over all channels, and on whole triples (the share of
    images put in their true mode). The counts of the true labels themselves show the sampling spread alone."""
    classes = channel_classes(images, classifier or FashionClassifierFeatures())
    truth = torch.from_numpy(np.asarray(labels, dtype=np.int64))
    right = classes == truth
    truth_counts = mode_counts(truth)
    return {
        **mode_counts(classes),
        "accuracy_r": float(right[:, 0].double().mean()),
        "accuracy_g": float(right[:, 1].double().mean()),
        "accuracy_b": float(right[:, 2].double().mean()),
        "channel_accuracy": float(right.double().mean()),
        "triple_accuracy": float(right.all(1).double().mean()),
        "labels_covered": truth_counts["modes_stacked_covered"],
        "labels_kl": truth_counts["modes_stacked_kl"],
        "n": len(classes),
    }
