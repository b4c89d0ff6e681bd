"""Fashion-MNIST (Xiao, Rasul and Vollgraf 2017), from Debian's package: what the image presets train on."""

from wganlab.datasets._registry import Dataset

NAME = "fashion-mnist"
DATASET = Dataset(
    name=NAME,
    source="Debian package dataset-fashion-mnist (Zalando Research), /usr/share/datasets/fashion-mnist",
    licence="MIT (Zalando SE)",
    size="70,000 images (60,000 train, 10,000 test), 28x28 gray, 10 classes",
    get="apt-get install dataset-fashion-mnist; then data.source=idx (its default path)",
)
