"""The toy tracking tests of loss-vs-quality-toy, recomputed from toy-training's committed curves.csv.

    python scripts/toy_tracking.py [docs/studies/toy-training/curves.csv]

toy-training's curves.csv holds, for every run, the logged estimate and the exact W1 of its samples at each
evaluation: the same pairs loss-vs-quality-toy's collect reads from the run folders (its committed Spearman and
Pearson columns are recomputed from this file to every digit). The committed loss-vs-quality-toy report was
collected before its beyond-the-trend table existed and its runs are not kept, so this prints that table (and
the first table's correlations, as a check) from the committed file with the study's own functions.
"""

import argparse
import csv
import sys
from collections import defaultdict
from pathlib import Path

from wganlab.studies import loss_vs_quality_toy as study
from wganlab.studies.common import style
from wganlab.studies.common.report import mean_std
from wganlab.studies.common.runner import Plan
from wganlab.studies.common.toys import OBJECTIVES, TOY_TITLES

DEFAULT = Path(__file__).resolve().parents[1] / "docs" / "studies" / "toy-training" / "curves.csv"


def read(curves: Path) -> dict[tuple[str, str, int], list[dict]]:
    runs = defaultdict(list)
    for record in csv.DictReader(curves.open()):
        runs[record["toy"], record["objective"], int(record["seed"])].append(record)
    return runs


def points_from(runs: dict[tuple[str, str, int], list[dict]]) -> list[dict]:
    """One dict per run and evaluation, as the study's collect gathers them for `between_runs`."""
    return [{"toy": toy, "objective": objective, "step": int(r["step"]), "estimate": float(r["estimate"]),
             "w1": float(r["w1"])} for (toy, objective, _), records in sorted(runs.items())
            for r in records]  # fmt: skip


def rows_from(runs: dict[tuple[str, str, int], list[dict]]) -> list[dict]:
    rows = []
    for (toy, objective, seed), records in sorted(runs.items()):
        records = sorted(records, key=lambda r: int(r["step"]))
        estimates, w1 = [float(r["estimate"]) for r in records], [float(r["w1"]) for r in records]
        steps = [int(r["step"]) for r in records]
        rows.append({"toy": toy, "objective": objective, "seed": seed, "points": len(records),
                     **study.correlations(estimates, w1), **study.beyond_trend(estimates, w1, steps)})  # fmt: skip
    return rows


def markdown(header: list[str], table: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in table])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("curves", type=Path, nargs="?", default=DEFAULT, help="toy-training's curves.csv")
    args = parser.parse_args(argv)
    if not args.curves.is_file():
        print(f"toy_tracking: no file {args.curves}; give toy-training's curves.csv", file=sys.stderr)
        return 2
    with args.curves.open() as f:
        missing = {"toy", "objective", "seed", "step", "w1", "estimate"} - set(next(csv.reader(f), []))
    if missing:
        print(f"toy_tracking: {args.curves} has no column {', '.join(sorted(missing))}; give toy-training's "
              "curves.csv", file=sys.stderr)  # fmt: skip
        return 2
    runs = read(args.curves)
    rows = rows_from(runs)
    toys = tuple(dict.fromkeys(r["toy"] for r in rows))
    seeds = len({r["seed"] for r in rows})
    plan = Plan(study.NAME, "default", seeds, [], {"toys": toys})
    first = []
    for toy in toys:
        for objective in OBJECTIVES:
            group = [r for r in rows if (r["toy"], r["objective"]) == (toy, objective)]
            cells = [mean_std([r[key] for r in group], 2) for key in ("spearman", "pearson")]
            first.append([TOY_TITLES[toy], style.title(objective), " / ".join(cells)])
    print(f"{len(rows)} runs, {seeds} seeds, from {args.curves}")
    print(f"W1 vs step (Spearman, per run): {study.step_range(rows)}\n")
    print(markdown(["toy", "objective", "Spearman / Pearson (the report's table 1)"], first))
    print()
    print(markdown(["toy", "objective", "W1 vs step", "changes", "later changes", "partial", "between seeds"],
                   study.trend_table(plan, rows, study.between_runs(points_from(runs)))))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
