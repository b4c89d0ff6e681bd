"""Stacked Fashion-MNIST: three Fashion-MNIST images drawn independently as the R, G and B channels of one image,
so the triples of classes make 10^3 = 1,000 modes, each with probability 1/1,000.

This is the Stacked MNIST protocol of Metz et al. 2017 ("Unrolled Generative Adversarial Networks"), as VEEGAN
(Srivastava et al. 2017) and PacGAN (Lin et al. 2018) use it to count the modes a GAN covers
(`wganlab.metrics.stacked_modes`), with Fashion-MNIST in place of MNIST because Fashion-MNIST is what installs
offline here (Debian's dataset-fashion-mnist). The default count, 128,000 images, and the evaluation's 26,000
samples are those of PacGAN's code for its VEEGAN-protocol experiment (github.com/fjxmlzn/PacGAN,
stacked_MNIST_experiments/VEEGAN_experiment/config.py: num_training_sample, num_test_sample), which draws each
channel uniformly with replacement. PacGAN draws from MNIST's train and test images together; here one split
is used (--split, train by default), so the test split stays unseen for held-out checks.
"""

from wganlab.datasets._registry import Dataset, Option

DEFAULT_COUNT = 128_000
FILE_NAME = "stacked.npz"


def stack_channels(images, labels, count: int, seed: int):
    """(stacked uint8 (count, 3, H, W), labels uint8 (count, 3)) from grayscale uint8 (N, 1, H, W) images and
    their (N,) labels: channel c of image i is images[picks[i, c]], picks drawn uniformly with replacement by
    numpy's default Generator (PCG64) seeded with `seed`, so the same seed gives the same bytes."""
    import numpy as np

    picks = np.random.default_rng(seed).integers(0, len(images), size=(count, 3))
    return np.ascontiguousarray(images[picks, 0]), np.ascontiguousarray(labels[picks])


def build_stacked_fashion_mnist(
    out, *, count: int = DEFAULT_COUNT, seed: int = 0, split: str = "train", fashion_mnist: str | None = None
) -> dict:
    """Write out/stacked.npz (`images` uint8 (count, 3, 28, 28), `labels` uint8 (count, 3): the classes of the R,
    G and B channels) and out/dataset.json. fashion_mnist: the IDX folder (None: Debian's)."""
    from pathlib import Path

    import numpy as np

    from wganlab.data.sources.idx import DEFAULT_PATH, load_idx
    from wganlab.datasets._output import building, check_out, write_manifest
    from wganlab.errors import DataError
    from wganlab.files import sha256_hex
    from wganlab.metrics.classifier import MetricInputError, load_fashion_labels

    out = Path(out)
    if count < 1:
        raise DataError(f"--count {count} must be at least 1")
    check_out(out)
    images = load_idx(fashion_mnist, split)
    try:
        labels = load_fashion_labels(fashion_mnist or DEFAULT_PATH, split)
    except MetricInputError as err:
        raise DataError(str(err)) from None
    if len(labels) != len(images):
        raise DataError(f"{len(images)} {split} images but {len(labels)} labels in {fashion_mnist or DEFAULT_PATH}")
    stacked, stacked_labels = stack_channels(images, labels, count, seed)
    with building(out) as work:
        with open(work / FILE_NAME, "wb") as handle:  # a file object: np.savez would otherwise add its own suffix
            np.savez(handle, images=stacked, labels=stacked_labels)
        manifest = {
            "name": "stacked-fashion-mnist",
            "source": f"Fashion-MNIST {split} split ({fashion_mnist or DEFAULT_PATH}), channels drawn with "
            f"numpy.random.default_rng({seed}).integers(0, {len(images)}, size=({count}, 3))",
            "sha256": sha256_hex(work / FILE_NAME),
            "count": count,
            "size": list(stacked.shape[2:]),
            "channels": 3,
            "seed": seed,
            "split": split,
            "modes": 1000,
            "licence": "MIT (Fashion-MNIST, Zalando SE)",
            "train": f"data.source=array data.path={out / FILE_NAME} data.channels=3",
        }
        write_manifest(work, manifest)
    return manifest


NAME = "stacked-fashion-mnist"
DATASET = Dataset(
    name=NAME,
    source="built from fashion-mnist: three images as R, G, B (Stacked MNIST protocol, 1,000 modes)",
    licence="MIT (Zalando SE), as Fashion-MNIST",
    size=f"{DEFAULT_COUNT:,} images (--count), 28x28, 3 channels",
    get="wganlab datasets get stacked-fashion-mnist --out DIR; then data.source=array data.path=DIR/stacked.npz",
    build=build_stacked_fashion_mnist,
    options=(
        Option("--count", int, DEFAULT_COUNT, "stacked images to draw (PacGAN's Stacked MNIST code: 128,000)"),
        Option("--seed", int, 0, "seed of numpy's default_rng that draws the three images of each"),
        Option("--split", str, "train", "the Fashion-MNIST split to draw from", ("train", "test")),
        Option("--fashion-mnist", str, "", "folder of the Fashion-MNIST IDX files (default: Debian's)", metavar="DIR"),
    ),
)
