"""Image sources are found by module: a file dropped into `wganlab.data.sources` is a data.source, with nothing else
changed (no list in the config, no branch in `load_image_array`)."""

import sys

import numpy as np
import pytest
import torch

import wganlab.data.sources
from wganlab.config import load_config
from wganlab.data import build_data
from wganlab.data.images import load_image_array
from wganlab.data.sources import TOYS, image_source_names, load_source, source_names
from wganlab.errors import ConfigError, DataError

# Four 8x8 gray images, image i all at level 60 * i: resizing keeps each image flat, so the values are exact.
ONE_FILE_SOURCE = """
import numpy as np

NAME = "levels"
DECODES_AT_SIZE = False
TEST_SPLIT = False


def load(config, *, progress=True):
    return np.repeat(np.arange(4, dtype=np.uint8)[:, None, None, None] * 60, 64).reshape(4, 1, 8, 8)
"""


@pytest.fixture
def package(tmp_path, monkeypatch):
    """A folder added to the sources package's path; its modules are forgotten afterwards."""
    folder = tmp_path / "sources"
    folder.mkdir()
    monkeypatch.setattr(wganlab.data.sources, "__path__", [*wganlab.data.sources.__path__, str(folder)])
    for name in ("levels", "broken"):
        monkeypatch.delitem(sys.modules, f"wganlab.data.sources.{name}", raising=False)
    return folder


def test_the_shipped_sources_are_the_package_files():
    assert image_source_names() == ["array", "cifar10", "folder", "idx", "masked_folder", "zip"]
    assert source_names() == (*TOYS, *image_source_names())
    assert [load_source(name).NAME for name in image_source_names()] == image_source_names()
    assert [name for name in image_source_names() if load_source(name).TEST_SPLIT] == ["cifar10", "idx"]


def test_a_new_data_source_is_one_file(package):
    (package / "levels.py").write_text(ONE_FILE_SOURCE)
    assert "levels" in image_source_names()
    config = load_config(
        None, ["data.source=levels", "data.image_size=16", "data.channels=3", "model.architecture=dcgan"]
    )
    assert not config.data.is_toy
    images = load_image_array(config.data, progress=False)
    assert images.shape == (4, 3, 16, 16) and images.dtype == np.uint8
    assert images.reshape(4, -1).min(axis=1).tolist() == [0, 60, 120, 180]
    assert images.reshape(4, -1).max(axis=1).tolist() == [0, 60, 120, 180]
    batches = build_data(config.data, device=torch.device("cpu"), rng=torch.Generator().manual_seed(0))
    batch = batches.next_batch(4)  # one epoch: every image once, in [-1, 1]
    torch.testing.assert_close(batch.flatten(1).mean(1).sort().values, torch.tensor([0, 60, 120, 180]) / 127.5 - 1)


def test_an_unknown_source_is_refused_with_the_choices(package):
    with pytest.raises(ConfigError, match=r"data.source='levels' is not one of .*swiss_roll.*array, cifar10"):
        load_config(None, ["data.source=levels"])
    with pytest.raises(DataError, match=r"data.source='levels' is not an image source \(array, cifar10, folder"):
        load_source("levels")


def test_a_module_without_the_declarations_is_named(package):
    (package / "broken.py").write_text('NAME = "other"\n')
    with pytest.raises(
        TypeError, match=r"wganlab.data.sources.broken is not an image source module: .*NAME = 'broken'"
    ):
        load_source("broken")
