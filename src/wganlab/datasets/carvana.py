"""The Carvana Image Masking Challenge training set, downloaded by hand from Kaggle: seed 002's data."""

from wganlab.datasets._registry import Dataset

NAME = "carvana"
DATASET = Dataset(
    name=NAME,
    source=(
        "by hand: train.zip and train_masks.zip from https://www.kaggle.com/c/carvana-image-masking-challenge "
        "(a Kaggle account that accepted the competition's rules)"
    ),
    licence="Kaggle competition rules",
    size="5,088 images, 1918x1280 RGB, with GIF masks",
    get=(
        "unzip both into carvana/, wganlab prepare carvana --out carvana64 --size 64, then "
        "wganlab train seeds/seed002-carvana-wgan-dcgan data.path=carvana64/images"
    ),
)
