import numpy as np
import pytest
import torch

from wganlab.training.samples import read_image_grid, save_image_grid, to_pixels


@pytest.mark.parametrize(
    ("shape", "count"), [((1, 32, 32), 64), ((3, 16, 16), 10), ((1, 28, 28), 36), ((3, 64, 64), 5)]
)
def test_a_saved_grid_reads_back_as_exactly_the_pixels_it_shows(tmp_path, shape, count):
    # Values on and between the 256 levels, and outside [-1, 1] (clamped), as a generator's output is.
    images = torch.rand(count, *shape, generator=torch.Generator().manual_seed(0)) * 2.2 - 1.1
    path = tmp_path / "grid.png"
    save_image_grid(images, path)
    np.testing.assert_array_equal(read_image_grid(path, shape, count), to_pixels(images))
    np.testing.assert_array_equal(read_image_grid(path, shape, count, n=3), to_pixels(images[:3]))


def test_a_picture_of_another_shape_is_refused_by_name(tmp_path):
    path = tmp_path / "grid.png"
    save_image_grid(torch.zeros(16, 1, 32, 32), path)
    # 16 images: 4 columns of 32 + 2 px and a 2 px edge, 138 px, doubled on disk; 64 would need 8 columns.
    with pytest.raises(ValueError, match="grid.png is 276x276 pixels, not a grid of 64 images of 32x32 \\(548x548\\)"):
        read_image_grid(path, (1, 32, 32), 64)
