"""Anime face crops, downloaded by hand: seed 003's data (its own download links are not in its text)."""

from wganlab.datasets._registry import Dataset

NAME = "anime-faces"
DATASET = Dataset(
    name=NAME,
    source="by hand: any folder of anime face crops, e.g. Kaggle's 'Anime Face Dataset' (splcher/animefacedataset)",
    licence="not stated by the seed; see the copy you download",
    size="depends on the copy; the seed trains at 96x96 RGB",
    get="wganlab train seeds/seed003-anime-wgan-ncritic1 data.path=/data/anime-faces",
)
