"""How far one generator's evaluation moves between draws of its samples: the noise in every evaluation.

    python benchmarks/eval_noise.py RUN_DIR [RUN_DIR ...] [--draws 8] [--n N] [--steps best,17500] [--csv FILE]

A training run measures its headline quality (exact W1 on the toys, FD (F-MNIST classifier) on Fashion-MNIST) at
each evaluation on `log.eval_samples` samples drawn from a stream of its own (a new draw at every evaluation, unless
`log.eval_same_draws`; the toys also draw new real points). This measures the same quantity again on `--draws`
independent draws (seeds 1..K) of each kept step checkpoint of each run and its best.pt (or the checkpoints given),
with the run's own `log.eval_samples` unless `--n`, and prints the logged value beside the draws' mean, standard
deviation and range. best.pt is the checkpoint of the lowest logged value, the minimum over every evaluation's draw:
the draws show how far below its generator's typical value it fell. Nothing is written into the run folders (a
running run is safe to read).

What it is for: the loss-vs-quality studies' tests of step-to-step changes compare the estimate's changes with the
quality's, and the quality's change between two evaluations carries this noise twice. Per run it prints the variance
of those changes after the first quarter of evaluations (the late-change test's range) and the share of it that two
independent draws' noise alone would give (2 sd^2 / var, with sd^2 the mean of the squared sd of the measured step
checkpoints inside that range, or of all of them, said, where none is): an estimate that followed the generator's
true quality perfectly would still correlate with the late changes at most sqrt(1 - share).
"""

import argparse
import csv
import math
import sys
from pathlib import Path

import numpy as np
import torch

from wganlab.studies.loss_vs_quality import late_part
from wganlab.training.quality import build_quality
from wganlab.training.run_folder import RunFolder


def kept_steps(folder: RunFolder) -> list[int]:
    return [step for step, _ in folder.step_checkpoints()]


def headline(folder: RunFolder) -> str:
    """The metric the run's evaluations lead with: w1 on the toys, else log.eval_metrics' first (fd_fmnist here)."""
    return build_quality(folder.read_config()).headline


def logged(folder: RunFolder, metric: str) -> dict[int, float]:
    return {r["step"]: r[metric] for r in folder.records("eval") if metric in r}


def chosen(folder: RunFolder, steps: str) -> list[str | int]:
    """The checkpoints to measure: the --steps list ("best" or step numbers), else every kept step and best.pt."""
    if steps:
        return [s if s == "best" else int(s) for s in steps.split(",") if s]
    return [*kept_steps(folder), *(["best"] if (folder.checkpoints / "best.pt").is_file() else [])]


def exists(folder: RunFolder, which: str | int) -> bool:
    return (folder.checkpoints / "best.pt").is_file() if which == "best" else which in kept_steps(folder)


def measure(folder: RunFolder, which: str | int, metric: str, draws: int, n: int) -> tuple[int, list[float]]:
    """(the checkpoint's step, `metric` on `draws` draws of n samples, seeds 1..draws)."""
    loaded = folder.load_generator(which, "cpu")
    quality = build_quality(loaded.config)
    return loaded.step, [
        quality.measure(loaded.network, (metric,), n=n, rng=torch.Generator().manual_seed(seed))[metric]
        for seed in range(1, draws + 1)
    ]


def late_steps(steps: list[int]) -> list[int]:
    """The evaluation steps of the late-change test: those after the first quarter (the first n // 4 left out)."""
    return late_part(sorted(steps))


def late_change_share(series: list[float], sd: float) -> tuple[float, float]:
    """(variance of the changes of `series` after the first quarter of evaluations, the share 2 sd^2 of it)."""
    late = np.diff(np.array(late_part(series), dtype=float))
    if len(late) < 3:
        return math.nan, math.nan
    variance = float(np.var(late, ddof=1))
    return variance, 2 * sd**2 / variance if variance > 0 else math.nan


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--draws", type=int, default=8)
    parser.add_argument("--n", type=int, help="samples per draw (default: the run's log.eval_samples)")
    parser.add_argument(
        "--steps", default="", help="comma list of checkpoint steps and/or best (default: every kept step and best)"
    )
    parser.add_argument("--csv", type=Path)
    args = parser.parse_args(argv)
    if args.draws < 2:
        print(f"eval_noise: --draws {args.draws} must be at least 2 (a standard deviation needs two)", file=sys.stderr)
        return 2
    rows = []
    for path in args.runs:
        folder = RunFolder(path)
        if not folder.metrics_path.is_file():
            print(f"eval_noise: {path} holds no metrics.jsonl; give a training run's folder", file=sys.stderr)
            return 2
        metric = headline(folder)
        n = args.n or folder.read_config().log.eval_samples
        values_at = logged(folder, metric)
        try:
            steps = chosen(folder, args.steps)
        except ValueError:
            print(
                f"eval_noise: --steps {args.steps!r}: give step numbers and/or best, comma-separated", file=sys.stderr
            )
            return 2
        missing = [s for s in steps if not exists(folder, s)]
        if not steps or missing:
            what = "best.pt" if missing == ["best"] else f"checkpoint at step {missing[0]}" if missing else "checkpoint"
            print(f"eval_noise: {path} has no kept {what}; "
                  f"kept: {', '.join(map(str, kept_steps(folder))) or 'none'}", file=sys.stderr)  # fmt: skip
            return 2
        sds, best_sd, late = {}, [], late_steps(list(values_at))
        for which in steps:
            step, values = measure(folder, which, metric, args.draws, n)
            mean, sd = float(np.mean(values)), float(np.std(values, ddof=1))
            if which == "best":
                best_sd.append(sd)
            else:
                sds[step] = sd
            row = {"run": str(path), "metric": metric, "checkpoint": which, "step": step,
                   "logged": values_at.get(step, math.nan), "draws": args.draws, "n": n, "mean": mean, "sd": sd,
                   "min": min(values), "max": max(values)}  # fmt: skip
            rows.append(row)
            label = f"step {step:>6}" + (" (best.pt)" if which == "best" else "")
            print(f"{path}  {label}: {metric} logged {row['logged']:.4g}; {args.draws} draws of {n:,}: {mean:.4g} ± "
                  f"{sd:.2g} ({100 * sd / mean:.1f} %), {min(values):.4g} to {max(values):.4g}")  # fmt: skip
        series = [values_at[s] for s in sorted(values_at)]
        inside = [sd for step, sd in sds.items() if late and step >= late[0]]
        if not inside:
            print(f"{path}: no measured step checkpoint falls after the first quarter of evaluations; the noise is "
                  "taken from those measured")  # fmt: skip
        noise = inside or list(sds.values()) or best_sd
        variance, share = late_change_share(series, math.sqrt(float(np.mean(np.square(noise)))))
        if math.isnan(share):
            print(f"{path}: {len(series)} evaluations, too few after the first quarter for the late-change test")
            continue
        ceiling = math.sqrt(max(0.0, 1 - share))
        print(f"{path}: {len(series)} evaluations; {metric}'s changes after the first quarter: variance "
              f"{variance:.3g}, "
              f"of which two draws' noise {share:.0%}: the late-change correlation is at most "
              f"{ceiling:.2f}")  # fmt: skip
    if args.csv:
        with args.csv.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    return 0


if __name__ == "__main__":
    torch.set_num_threads(1)
    sys.exit(main())
