"""CIFAR-10 (Krizhevsky 2009), the python archive, downloaded by hand: the WGAN-GP paper's ResNet preset."""

from wganlab.datasets._registry import Dataset

NAME = "cifar-10"
DATASET = Dataset(
    name=NAME,
    source="by hand: cifar-10-python.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html",
    licence="none stated (cite Krizhevsky 2009)",
    size="60,000 images (50,000 train, 10,000 test), 32x32 RGB, 10 classes",
    get="download it, then data.source=cifar10 data.path=cifar-10-python.tar.gz (read from the archive)",
)
