import pytest
import torch

# Tiny networks run faster on one thread, and timings do not swing when other jobs share the cores.
torch.set_num_threads(1)

from wganlab.config import RunConfig, load_config  # noqa: E402

TINY = [
    "model.generator_widths=32,32",
    "model.critic_widths=32,32",
    "train.batch_size=32",
    "train.device=cpu",
    "log.progress=false",
    "log.tensorboard=false",
]


@pytest.fixture
def tiny_config():
    """A small, fast toy run config: tiny_config('wgan', 'train.steps=6', ...)."""

    def build(objective: str = "wgan-gp", *overrides: str) -> RunConfig:
        return load_config(None, [f"objective.name={objective}", *TINY, *overrides])

    return build
