"""When a run may stop before train.steps: `train.stop_rule`, checked where the loop evaluates.

plateau (the `long` study size): at evaluation k (counting from 1, over the whole run, resumes included), once
k >= train.stop_min_evaluations, split the headline values v_1..v_k (lower is better: FD, FID, W1) into the last
quarter, q = ceil(k / 4) values, and the k - q before them. The run stops at that evaluation when

    min(v_{k-q+1..k}) >= (1 - train.stop_tolerance) * min(v_1..v_{k-q})

i.e. the last quarter of its evaluations improved on the best value before them by the tolerance (3 % by default)
or less, or not at all. (Comparing the last quarter with the best *including* it would stop every run that
is still improving, whose best is its latest value.) train.steps is then the cap. The decision reads only the
evaluations' values, which metrics.jsonl keeps across a resume, so a run killed and resumed stops at the same
step as an uninterrupted one.
"""

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Stop:
    """Why a run stopped early, as outcome.json records it."""

    step: int
    evaluations: int
    recent_best: float
    earlier_best: float

    def record(self, tolerance: float) -> dict:
        improvement = 1 - self.recent_best / self.earlier_best if self.earlier_best else 0.0
        return {
            "stopped_by": "plateau",
            "stop_step": self.step,
            "stop_evaluations": self.evaluations,
            "stop_reason": (
                f"the last {math.ceil(self.evaluations / 4)} of {self.evaluations} evaluations improved the best "
                f"headline value before them ({self.earlier_best:.6g}) by {improvement:.2%} (best "
                f"{self.recent_best:.6g}), at most {tolerance:.0%}"
            ),
        }


def _quarters(values: list[float], min_evaluations: int) -> tuple[float, float] | None:
    """(best of the last quarter, best before it), or None before the rule's first check."""
    k = len(values)
    if k < max(2, min_evaluations):
        return None
    q = math.ceil(k / 4)
    return min(values[k - q :]), min(values[: k - q])


def plateau(values: list[float], *, min_evaluations: int, tolerance: float) -> tuple[float, float] | None:
    """(best of the last quarter, best before it) when the rule above says stop after `values`, else None."""
    found = _quarters(values, min_evaluations)
    return found if found is not None and found[0] >= (1 - tolerance) * found[1] else None


def standing(values: list[float], *, min_evaluations: int, tolerance: float) -> str:
    """Where a running run stands against the plateau rule after `values`, in words (`wganlab study --status`)."""
    k, found = len(values), _quarters(values, min_evaluations)
    if found is None:
        return f"rule from evaluation {max(2, min_evaluations)} (at {k})"
    recent, earlier = found
    improvement = 1 - recent / earlier if earlier else 0.0
    return f"last {math.ceil(k / 4)} of {k} evaluations improved {improvement:.1%} (stops at <= {tolerance:.0%})"


def check(rule: str, steps: list[int], values: list[float], *, min_evaluations: int, tolerance: float) -> Stop | None:
    """The Stop that `rule` calls for after the evaluations at `steps` with headline `values`, else None."""
    if rule == "none" or not values:
        return None
    if rule != "plateau":
        raise ValueError(f"unknown stop rule {rule!r}")
    found = plateau(values, min_evaluations=min_evaluations, tolerance=tolerance)
    if found is None:
        return None
    return Stop(step=steps[-1], evaluations=len(values), recent_best=found[0], earlier_best=found[1])


def record_for_cap(step: int) -> dict:
    """outcome.json's note for a run with a stop rule that reached train.steps first."""
    return {"stopped_by": "cap", "stop_step": step, "stop_reason": "train.steps reached before the rule stopped it"}
