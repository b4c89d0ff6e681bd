"""How far one generator's FD (F-MNIST classifier) moves between draws of its samples: the noise in every evaluation.

    python benchmarks/fd_noise.py RUN_DIR [RUN_DIR ...] [--draws 8] [--n 2000] [--steps best,17500] [--csv FILE]

A training run measures `fd_fmnist` at each evaluation on `log.eval_samples` generated images drawn from a stream
of its own (a new draw at every evaluation). This measures the same quantity again on `--draws` independent draws
(z seeds 1..K) of each kept step checkpoint of each run and its best.pt (or the checkpoints given), and prints the
logged value beside the draws' mean, standard deviation and range. best.pt is the checkpoint of the lowest logged
FD, the minimum over every evaluation's draw: the draws show how far below its generator's typical FD it fell.
Nothing is written into the run folders (a running run is safe to read).

What it is for: loss-vs-quality's tests of step-to-step changes compare the estimate's changes with FD's, and FD's
changes between two evaluations carry this noise twice. Per run it prints the variance of FD's changes after the
first quarter of evaluations (the late-change test's range) and the share of it that two independent draws' noise
alone would give (2 sd^2 / var, with sd the mean of the measured checkpoints' sd): an estimate that followed the
generator's true quality perfectly would still correlate with FD's late changes at most sqrt(1 - share).
"""

import argparse
import csv
import math
import sys
from pathlib import Path

import numpy as np
import torch

from wganlab.training.quality import build_quality
from wganlab.training.run_folder import RunFolder


def kept_steps(folder: RunFolder) -> list[int]:
    return sorted(int(p.stem.split("-")[1]) for p in folder.checkpoints.glob("step-*.pt"))


def logged_fd(folder: RunFolder) -> dict[int, float]:
    return {r["step"]: r["fd_fmnist"] for r in folder.records("eval") if "fd_fmnist" in r}


def chosen(folder: RunFolder, steps: str) -> list[str | int]:
    """The checkpoints to measure: the --steps list ("best" or step numbers), else every kept step and best.pt."""
    if steps:
        return [s if s == "best" else int(s) for s in steps.split(",") if s]
    return [*kept_steps(folder), *(["best"] if (folder.checkpoints / "best.pt").is_file() else [])]


def exists(folder: RunFolder, which: str | int) -> bool:
    return (folder.checkpoints / ("best.pt" if which == "best" else f"step-{which:08d}.pt")).is_file()


def measure(folder: RunFolder, which: str | int, draws: int, n: int) -> tuple[int, list[float]]:
    """(the checkpoint's step, its FD on `draws` draws of n samples, z seeds 1..draws)."""
    loaded = folder.load_generator(which, "cpu")
    quality = build_quality(loaded.config)
    return loaded.step, [
        quality.measure(loaded.network, ("fd_fmnist",), n=n, rng=torch.Generator().manual_seed(seed))["fd_fmnist"]
        for seed in range(1, draws + 1)
    ]


def late_change_share(fd: list[float], sd: float) -> tuple[float, float]:
    """(variance of FD's changes after the first quarter of evaluations, the share 2 sd^2 of it)."""
    late = np.diff(np.array(fd[len(fd) // 4 :], dtype=float))
    if len(late) < 3:
        return math.nan, math.nan
    variance = float(np.var(late, ddof=1))
    return variance, 2 * sd**2 / variance if variance > 0 else math.nan


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--draws", type=int, default=8)
    parser.add_argument("--n", type=int, default=2000, help="samples per draw (the long size's log.eval_samples)")
    parser.add_argument(
        "--steps", default="", help="comma list of checkpoint steps and/or best (default: every kept step and best)"
    )
    parser.add_argument("--csv", type=Path)
    args = parser.parse_args(argv)
    if args.draws < 2:
        print(f"fd_noise: --draws {args.draws} must be at least 2 (a standard deviation needs two)", file=sys.stderr)
        return 2
    rows = []
    for path in args.runs:
        folder = RunFolder(path)
        if not folder.metrics_path.is_file():
            print(f"fd_noise: {path} holds no metrics.jsonl; give a training run's folder", file=sys.stderr)
            return 2
        logged = logged_fd(folder)
        try:
            steps = chosen(folder, args.steps)
        except ValueError:
            print(f"fd_noise: --steps {args.steps!r}: give step numbers and/or best, comma-separated", file=sys.stderr)
            return 2
        missing = [s for s in steps if not exists(folder, s)]
        if not steps or missing:
            what = "best.pt" if missing == ["best"] else f"checkpoint at step {missing[0]}" if missing else "checkpoint"
            print(f"fd_noise: {path} has no kept {what}; "
                  f"kept: {', '.join(map(str, kept_steps(folder))) or 'none'}", file=sys.stderr)  # fmt: skip
            return 2
        sds, best_sd = [], []
        for which in steps:
            step, values = measure(folder, which, args.draws, args.n)
            mean, sd = float(np.mean(values)), float(np.std(values, ddof=1))
            (best_sd if which == "best" else sds).append(sd)  # the noise: the kept steps' sd (best.pt's alone)
            row = {"run": str(path), "checkpoint": which, "step": step, "logged": logged.get(step, math.nan),
                   "draws": args.draws, "n": args.n, "mean": mean, "sd": sd, "min": min(values),
                   "max": max(values)}  # fmt: skip
            rows.append(row)
            label = f"step {step:>6}" + (" (best.pt)" if which == "best" else "")
            print(f"{path}  {label}: logged {row['logged']:.2f}; {args.draws} draws {mean:.2f} ± {sd:.2f} "
                  f"({100 * sd / mean:.1f} %), {min(values):.2f} to {max(values):.2f}")  # fmt: skip
        series = [logged[s] for s in sorted(logged)]
        variance, share = late_change_share(series, float(np.mean(sds or best_sd)))
        if math.isnan(share):
            print(f"{path}: {len(series)} evaluations, too few after the first quarter for the late-change test")
            continue
        ceiling = math.sqrt(max(0.0, 1 - share))
        print(f"{path}: {len(series)} evaluations; FD's changes after the first quarter: variance {variance:.2f}, "
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
