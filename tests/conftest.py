import os
from pathlib import Path

import pytest
import torch

# Tiny networks run faster on one thread, and timings do not swing when other jobs share the cores.
# WGANLAB_TEST_THREADS=2 runs the in-process tests on two threads instead (another summation order in the
# kernels: every tolerance must hold at either count; processes the tests start follow OMP_NUM_THREADS).
torch.set_num_threads(int(os.environ.get("WGANLAB_TEST_THREADS", "1")))

from wganlab.config import RunConfig, load_config  # noqa: E402
from wganlab.files import user_cache_dir  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def isolated_user_cache(tmp_path_factory):
    """Every test (and every process it starts) writes wganlab's user cache under a temporary folder, never the
    user's. The Inception file fetched by `wganlab setup-metrics`, when there is one, stays visible."""
    inception = user_cache_dir("inception", "default_1.pt")
    root = tmp_path_factory.mktemp("wganlab-cache")
    if inception.is_file():
        (root / "inception").mkdir()
        (root / "inception" / "default_1.pt").symlink_to(inception.resolve())
    saved = os.environ.get("WGANLAB_CACHE")
    os.environ["WGANLAB_CACHE"] = str(root)
    yield Path(root)
    if saved is None:
        os.environ.pop("WGANLAB_CACHE", None)
    else:
        os.environ["WGANLAB_CACHE"] = saved


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
