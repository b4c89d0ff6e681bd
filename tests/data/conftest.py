"""Shared checks for the image sources: every source must serve an exactly resumable batch order."""

import io
from collections.abc import Callable

import numpy as np
import pytest
import torch

from wganlab.data.images import ImageBatches

CPU = torch.device("cpu")


def _roundtrip(state: dict) -> dict:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


def check_resume(make: Callable[[torch.Generator], ImageBatches], batch_size: int, k: int = 3) -> None:
    """k batches, save, k more; a fresh ImageBatches + rng restored from the save draws the same k more."""
    rng = torch.Generator().manual_seed(1234)
    batches = make(rng)
    for _ in range(k):
        batches.next_batch(batch_size)
    state, rng_state = _roundtrip(batches.state_dict()), rng.get_state()
    expected = [batches.next_batch(batch_size) for _ in range(k)]

    fresh_rng = torch.Generator()
    fresh_rng.set_state(rng_state)
    resumed = make(fresh_rng)
    resumed.load_state_dict(state)
    for want, got in zip(expected, [resumed.next_batch(batch_size) for _ in range(k)], strict=True):
        assert torch.equal(got, want)


def check_seeded(make: Callable[[torch.Generator], ImageBatches], batch_size: int, k: int = 3) -> None:
    """The same seed gives the same batches; another seed gives another order."""
    runs = []
    for seed in (7, 7, 8):
        batches = make(torch.Generator().manual_seed(seed))
        runs.append(torch.cat([batches.next_batch(batch_size) for _ in range(k)]))
    assert torch.equal(runs[0], runs[1])
    assert not torch.equal(runs[0], runs[2])


@pytest.fixture
def resume_check() -> Callable:
    return check_resume


@pytest.fixture
def seed_check() -> Callable:
    return check_seeded


def batches_of(images: np.ndarray, **kwargs) -> Callable[[torch.Generator], ImageBatches]:
    return lambda rng: ImageBatches(images, device=CPU, rng=rng, **kwargs)


@pytest.fixture
def make_batches() -> Callable:
    return batches_of
