"""CelebA, aligned and cropped (Liu et al. 2015), downloaded by hand: seed 000's data."""

from wganlab.datasets._registry import Dataset

NAME = "celeba"
DATASET = Dataset(
    name=NAME,
    source=(
        "by hand: img_align_celeba.zip, 'Align&Cropped Images' on "
        "https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html (or Kaggle jessicali9530/celeba-dataset)"
    ),
    licence="non-commercial research only (CelebA agreement)",
    size="202,599 images, 178x218 RGB",
    get="wganlab train seeds/seed000-celeba-wgan data.source=zip data.path=img_align_celeba.zip",
)
