"""Sample-quality metrics, one module per metric name: `toy/` for low-dimensional samples, `image/` for images.

Every module of those two packages is one metric, named after its file (see `wganlab.plugins`). It defines:

    NAME: str               its file's name (checked): what log.eval_metrics, log.final_metrics and --metrics name
    KEYS: tuple[str, ...]   the keys its values are written under (metrics.jsonl, eval.json); the first is the
                            headline best.pt follows when the metric comes first in log.eval_metrics
    NEEDS: str              what `measure` is given (`metrics/inputs.py`):
                              toys    "samples": fresh real and generated points (`ToySamples`)
                              images  "inception_features" or "inception_logits": the one Inception pass over the
                                      fakes that `metrics/evaluate.py` makes for every metric that needs it
                                      (`InceptionPass`), or "generator": the generator itself, to draw and score
                                      its own samples (`GeneratorAccess`)
    measure(inputs) -> dict[str, float]    its values (a subset of KEYS: none where the metric does not apply)

Names are listed from the files without importing them, so the CLI's help lists them with no torch loaded; a metric
module is imported when it is measured. The computations they call live beside this file (fid.py, kid.py, ...).
"""

from importlib import import_module
from types import ModuleType

from wganlab.errors import MetricError
from wganlab.plugins import load_plugin, plugin_names

KINDS = ("toy", "image")
NEEDS = {"toy": ("samples",), "image": ("inception_features", "inception_logits", "generator")}
REQUIRED = ("KEYS", "NEEDS", "measure")


def metric_names(kind: str) -> list[str]:
    """The metrics of `kind` ("toy" or "image"), sorted, from their module files (nothing imported)."""
    return plugin_names(import_module(f"wganlab.metrics.{kind}"))


def load_metric(kind: str, name: str) -> ModuleType:
    """The metric module `name` of `kind`; MetricError naming the choices for an unknown name."""
    names = metric_names(kind)
    if name not in names:
        raise MetricError(f"{name!r} is not {_a(kind)} metric; choose from {', '.join(names)}")
    module = load_plugin(import_module(f"wganlab.metrics.{kind}"), name, REQUIRED, f"{_a(kind)} metric module")
    if module.NEEDS not in NEEDS[kind]:
        raise TypeError(f"{module.__name__}: NEEDS = {module.NEEDS!r} is not one of {', '.join(NEEDS[kind])}")
    return module


def _a(kind: str) -> str:
    return "an image" if kind == "image" else f"a {kind}"


def metric_keys(kind: str) -> dict[str, tuple[str, ...]]:
    """Every metric of `kind` -> the keys it writes (imports the metric modules)."""
    return {name: load_metric(kind, name).KEYS for name in metric_names(kind)}
