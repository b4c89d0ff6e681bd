"""Copy the finished runs of a study pool into docs/studies/records, without what a report does not need.

    python scripts/keep_records.py studies/image-runs docs/studies/records/image-runs --last-picture

A run is finished when its folder holds outcome.json. Its record keeps config.toml, run.json, metrics.jsonl,
timing.jsonl, outcome.json, what a study's collect wrote beside them (e.g. final-measures.json) and its sample
pictures; it leaves out checkpoints (megabytes of weights), the lock, the TensorBoard files, reals.png, and
command.txt, console.txt and log.txt (they name this machine's folders; config.toml holds the same settings).
`--last-picture` keeps only the newest samples/step-*.png, the one the sample figures are drawn from. A record
that exists already is left as it is (said when it differs from the run), so running this again adds only new runs.
"""

import argparse
import filecmp
import shutil
import sys
from pathlib import Path

LEFT_OUT = {"checkpoints", ".lock", "command.txt", "console.txt", "log.txt", "reals.png"}


def kept(path: Path) -> bool:
    return path.name not in LEFT_OUT and not path.name.startswith("events.out.tfevents")


def copy_run(run: Path, record: Path, last_picture: bool) -> None:
    pictures = sorted((run / "samples").glob("step-*.png")) if (run / "samples").is_dir() else []
    for source in sorted(run.rglob("*")):
        relative = source.relative_to(run)
        if not all(kept(Path(part)) for part in relative.parts) or source.is_dir():
            continue
        if last_picture and source in pictures[:-1]:
            continue
        target = record / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pool", type=Path, help="the study pool, e.g. studies/image-runs")
    parser.add_argument("records", type=Path, help="its records folder, e.g. docs/studies/records/image-runs")
    parser.add_argument("--last-picture", action="store_true", help="keep only each run's newest sample picture")
    args = parser.parse_args(argv)
    if not args.pool.is_dir():
        print(f"keep_records: {args.pool} is not a folder; give the study pool (e.g. studies/image-runs)",
              file=sys.stderr)  # fmt: skip
        return 2
    added = differing = 0
    for outcome in sorted(args.pool.rglob("outcome.json")):
        run = outcome.parent
        record = args.records / run.relative_to(args.pool)
        if record.exists():
            known = record / "outcome.json"
            if not known.exists() or not filecmp.cmp(outcome, known, shallow=False):
                print(f"kept as it was: {record} (its outcome.json differs from {run}'s)")
                differing += 1
            continue
        copy_run(run, record, args.last_picture)
        added += 1
    print(f"{added} run(s) added to {args.records}; {differing} existing record(s) differ from their run")
    return 0


if __name__ == "__main__":
    sys.exit(main())
