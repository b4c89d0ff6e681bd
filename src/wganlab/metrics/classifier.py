"""FD (F-MNIST classifier): the Fréchet distance in the feature space of a small Fashion-MNIST classifier.

Why: Inception FID costs about 12 images/s on our CPUs (299 px RGB through Inception-v3), far too slow for
quality curves with 20+ points per run. A 3-block CNN trained by the project on Fashion-MNIST itself
(`scripts/train_fashion_classifier.py`) runs at thousands of images/s at 28 px. Its numbers are on their own
scale: they are not Inception FIDs and must never be reported as such, hence the key `fd_fmnist` and the
display name "FD (F-MNIST classifier)". `benchmarks/results/fast_fid.md` measures how well it ranks
checkpoints like the standard TF-Inception FID.

Input convention: (N, 1, S, S) images in [-1, 1] (float) or 0..255 (uint8), any square size S. They are
rounded to 8-bit levels at their own size (so in-memory samples and saved uint8 samples score alike, as in
`InceptionFeatures`), then resized to 28x28 with antialiased bilinear interpolation when S != 28. The
classifier was trained with random zoom-outs (pad 0-4 px of -1 background, resize back to 28) and small
shifts, so both 32 px conventions (2 px zero padding, or Lanczos 28 -> 32) and 64 px land in distribution.
"""

import gzip
import json
import struct
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, safe_open
from torch import Tensor, nn

from wganlab.errors import UserError
from wganlab.metrics.fid import feature_statistics, frechet_distance

METRIC_KEY = "fd_fmnist"
DISPLAY_NAME = "FD (F-MNIST classifier)"
INPUT_SIZE = 28
FEATURE_DIM = 128
NUM_CLASSES = 10
WIDTHS = (32, 64, 128)
WEIGHTS_PATH = Path(__file__).parent / "weights" / "fashion_mnist_classifier.safetensors"
LABELS_MAGIC = 0x00000801
LABEL_FILES = {"train": "train-labels-idx1-ubyte.gz", "test": "t10k-labels-idx1-ubyte.gz"}
DEFAULT_DATA = Path("/usr/share/datasets/fashion-mnist")


class MetricInputError(UserError):
    """Images or weights the F-MNIST classifier cannot score: wrong shape, missing or foreign weights file."""


class FashionClassifier(nn.Module):
    """Three conv blocks (32-64-128 channels, 3x3, batch norm, ReLU, 2x2 max pool), a 128-d layer, 10 logits.

    Batch norm, because it lets this net reach >= 91% test accuracy in a few one-thread CPU epochs at a
    large learning rate; in eval mode it is a fixed per-channel affine map, so an image's features never
    depend on the other images in its batch. Spatial size: 28 -> 14 -> 7 -> 3 (floor), flattened to 1152.

    Features are the 128-d penultimate layer *before* its ReLU. After the ReLU, 72% of the values on the
    real test set are 0 and 25 of the 128 units are 0 for every real image, so the real covariance has rank
    103 and the Fréchet distance would rest on frechet_distance's eps regularisation; before the ReLU the
    covariance has full rank (smallest eigenvalue 0.009) and the features are far less skewed (median
    |skewness| 0.45 vs 1.78), closer to the Gaussians the distance assumes. (Measured on the shipped weights
    before any Inception FID was computed; benchmarks/results/fast_fid.md reports both layers.)
    """

    def __init__(self) -> None:
        super().__init__()
        blocks: list[nn.Module] = []
        channels_in = 1
        for width in WIDTHS:
            blocks += [
                nn.Conv2d(channels_in, width, 3, padding=1, bias=False),  # the bias is redundant before BN
                nn.BatchNorm2d(width),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(2),
            ]
            channels_in = width
        self.blocks = nn.Sequential(*blocks)
        self.embed = nn.Sequential(nn.Flatten(), nn.Linear(WIDTHS[-1] * 3 * 3, FEATURE_DIM))
        self.dropout = nn.Dropout(0.3)
        self.head = nn.Linear(FEATURE_DIM, NUM_CLASSES)

    def features(self, images: Tensor) -> Tensor:
        """(N, 1, 28, 28) in [-1, 1] -> (N, 128) penultimate pre-activations."""
        return self.embed(self.blocks(images))

    def forward(self, images: Tensor) -> Tensor:
        """(N, 1, 28, 28) in [-1, 1] -> (N, 10) class logits; dropout acts in training mode only."""
        return self.head(self.dropout(torch.relu(self.features(images))))


def to_classifier_input(images: Tensor) -> Tensor:
    """(N, 1, S, S) float in [-1, 1] or uint8 -> (N, 1, 28, 28) float32 in [-1, 1], 8-bit levels."""
    if images.ndim != 4 or images.shape[1] != 1 or images.shape[2] != images.shape[3] or len(images) == 0:
        raise MetricInputError(
            f"{DISPLAY_NAME} needs grayscale square images (N >= 1, 1, S, S); got shape {tuple(images.shape)}"
        )
    if images.dtype == torch.uint8:
        levels = images.float()
    else:
        levels = ((images.float() + 1) * 127.5).clamp(0, 255).round()
    pixels = levels / 127.5 - 1
    if pixels.shape[-1] != INPUT_SIZE:
        pixels = nn.functional.interpolate(
            pixels, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False, antialias=True
        )
    return pixels


def read_weights_metadata(path: Path = WEIGHTS_PATH) -> dict[str, str]:
    """The string metadata stored in the safetensors header (seed, epochs, test accuracy, ...)."""
    with safe_open(str(path), framework="pt") as handle:
        return dict(handle.metadata() or {})


class FashionClassifierFeatures(nn.Module):
    """Frozen feature extractor: images (N, 1, S, S) -> (N, 128) float32 features, or (N, 10) logits.

    Always in eval mode and without gradients: a metric, not a trainable layer. `path` defaults to the
    weights shipped with the package; they load with safetensors (no pickle, so no code runs on load).
    """

    num_features = FEATURE_DIM

    def __init__(self, path: str | Path | None = None) -> None:
        super().__init__()
        self.path = Path(path) if path is not None else WEIGHTS_PATH
        if not self.path.is_file():
            raise MetricInputError(
                f"classifier weights {str(self.path)!r} do not exist; run scripts/train_fashion_classifier.py"
            )
        self.net = FashionClassifier()
        try:
            self.net.load_state_dict(load_file(str(self.path)))
        except Exception as err:
            raise MetricInputError(
                f"{self.path} does not hold FashionClassifier weights ({type(err).__name__}); "
                "retrain with scripts/train_fashion_classifier.py"
            ) from None
        self.metadata = read_weights_metadata(self.path)
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> "FashionClassifierFeatures":
        """Stays in eval mode: batch norm's running statistics and no dropout are part of the metric."""
        return super().train(False)

    @torch.no_grad()
    def forward(self, images: Tensor) -> Tensor:
        return self.net.features(to_classifier_input(images))

    @torch.no_grad()
    def logits(self, images: Tensor) -> Tensor:
        """(N, 10) class logits; softmax gives p(y|x) for an Inception-Score-like classifier score."""
        return self.net(to_classifier_input(images))


@torch.no_grad()
def classifier_features(
    images: Tensor | np.ndarray, extractor: FashionClassifierFeatures, batch_size: int = 500
) -> Tensor:
    """(N, 128) features of many images, batch by batch, so a 10k set never makes one 10k activation map."""
    tensor = torch.from_numpy(np.ascontiguousarray(images)) if isinstance(images, np.ndarray) else images
    return torch.cat([extractor(tensor[start : start + batch_size]) for start in range(0, len(tensor), batch_size)])


def fd_fmnist(fake_features: Tensor, real_features: Tensor) -> float:
    """FD (F-MNIST classifier) between two feature sets (N, 128) and (M, 128): Fréchet distance, float64."""
    for name, features in (("fake", fake_features), ("real", real_features)):
        if features.ndim != 2 or features.shape[1] != FEATURE_DIM:
            raise MetricInputError(
                f"{name} features must be (N, {FEATURE_DIM}) from FashionClassifierFeatures; "
                f"got shape {tuple(features.shape)}"
            )
    return frechet_distance(*feature_statistics(fake_features), *feature_statistics(real_features))


def load_fashion_labels(path: str | Path, split: str) -> np.ndarray:
    """Class labels 0..9 (uint8, (N,)) of a Fashion-MNIST split from its IDX labels file (magic 0x801).

    Lives here because the classifier's training script and tests are its only callers so far.
    """
    folder = Path(path) if path else DEFAULT_DATA
    file = folder / LABEL_FILES[split]
    if not file.is_file():
        raise MetricInputError(f"no {LABEL_FILES[split]} in {folder}; point the path at the Fashion-MNIST folder")
    payload = gzip.decompress(file.read_bytes())
    magic, count = struct.unpack(">II", payload[:8])
    if magic != LABELS_MAGIC or len(payload) - 8 != count:
        raise MetricInputError(f"{file} is not an IDX labels file (magic {magic:#010x}, {count} labels)")
    return np.frombuffer(payload, dtype=np.uint8, offset=8).copy()


def describe_weights(path: Path = WEIGHTS_PATH) -> str:
    """One line naming the weights and how they were trained, for reports."""
    meta = read_weights_metadata(path)
    return f"{path.name}: " + json.dumps({key: meta[key] for key in sorted(meta)})
