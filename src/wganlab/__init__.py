"""wganlab: train, measure and compare GAN, WGAN, WGAN-GP and SNGAN.

The Python API (docs/api.md):

    import wganlab
    run = wganlab.train("eight_gaussians/wgan-gp", out="runs/gp", train={"steps": 500})
    generator = wganlab.load_generator(run, checkpoint="best")
    samples = wganlab.sample(generator, 64, seed=0)
    wganlab.evaluate(run)
    wganlab.compare(run, "real-images/", ["fid", "kid"])

`train`, `load_generator`, `sample`, `evaluate` and `compare` live in `wganlab.api`; they, `load_config`, `presets` and
`RunConfig` are imported on first use, so `import wganlab` (and `wganlab --help`) loads no torch.
"""

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "train": "wganlab.api",
    "load_generator": "wganlab.api",
    "sample": "wganlab.api",
    "evaluate": "wganlab.api",
    "compare": "wganlab.api",
    "load_config": "wganlab.config",
    "presets": "wganlab.config",
    "RunConfig": "wganlab.config",
}
__all__ = [
    "RunConfig",
    "__version__",
    "compare",
    "evaluate",
    "load_config",
    "load_generator",
    "presets",
    "sample",
    "train",
]

if TYPE_CHECKING:
    from wganlab.api import compare, evaluate, load_generator, sample, train
    from wganlab.config import RunConfig, load_config, presets


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'wganlab' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
