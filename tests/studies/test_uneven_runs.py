"""Runs that a stop rule (`--scale long`) ended at different steps: every collect must still draw its curves, take
each run's own last evaluation and say in its captions what the mean and band are over."""

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from wganlab.studies.common import style
from wganlab.studies.common.report import mean_std
from wganlab.studies.common.study import run_study
from wganlab.studies.loss_vs_quality import quarter_steps, span

ROOT = Path(__file__).resolve().parents[2]
RECORDS = ROOT / "docs" / "studies" / "records"


def rows(ends: dict[int, int]) -> list[dict]:
    """Evaluation rows of runs (seed -> last step) evaluated at steps 1, 2, ...; the value is 10 * seed + step."""
    return [{"seed": seed, "step": step, "fd": 10.0 * seed + step} for seed, end in ends.items() for step in
            range(1, end + 1)]  # fmt: skip


def test_by_step_pads_the_runs_that_ended_early():
    even = rows({0: 3, 1: 3})
    assert np.array_equal(style.by_step(even, "fd", [1, 2, 3]), [[1, 11], [2, 12], [3, 13]])
    uneven = style.by_step(rows({0: 3, 1: 1, 2: 2}), "fd", [1, 2, 3])
    assert uneven.shape == (3, 3) and np.isnan(uneven[1:, 2]).all() and np.isnan(uneven[2, 1])
    # The mean at each step is over the runs still training there: 3 at step 1, 2 at step 2, 1 at step 3.
    assert np.allclose(np.nanmean(uneven, axis=1), [(1 + 11 + 21) / 3, (2 + 22) / 2, 3])
    assert not style.uneven(even) and style.band_note(even) == ""
    assert style.uneven(rows({0: 3, 1: 2})) and "ended at different steps" in style.band_note(rows({0: 3, 1: 2}))


def test_sample_pictures_spread_over_the_runs_own_length():
    assert quarter_steps([750, 1500, 2250, 3000]) == [750, 1500, 2250, 3000]  # the default size: all four
    assert quarter_steps(list(range(2500, 20_001, 2500))) == [5000, 10_000, 15_000, 20_000]  # not the last four
    assert quarter_steps([750, 1500, 2250]) == [750, 1500, 2250]  # fewer pictures than panels: each once
    assert (span([20, 20, 20]), span([15, 20, 17])) == ("20", "15–20")


def end_early(records: Path) -> dict[str, int]:
    """End every seed-1 run of the records (and every other random architecture) at 3/4 of its evaluations, as a
    stop rule would: later records and pictures removed, its final record and outcome moved to that step."""
    ended = {}
    for index, outcome in enumerate(sorted(records.rglob("outcome.json"))):
        run = outcome.parent
        if "seed-1" not in run.parts and not (run.parts[-2].startswith("arch-") and index % 2):
            continue
        lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        evaluations = sorted({r["step"] for r in lines if r["kind"] == "eval"})
        stop = evaluations[3 * len(evaluations) // 4 - 1]
        kept = [{**r, "step": stop} if r["kind"] == "final" else r for r in lines
                if r["step"] <= stop or r["kind"] == "final"]  # fmt: skip
        (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in kept))
        for picture in (run / "samples").glob("*step-*.png"):
            if int(picture.stem.split("step-")[1]) > stop:
                picture.unlink()
        outcome.write_text(json.dumps({**json.loads(outcome.read_text()), "step": stop}))
        ended[str(run.relative_to(records))] = stop
    return ended


BANDS = ("loss-vs-quality", "architecture-grid", "batchnorm", "n-critic", "clip-sweep", "quality-vs-time", "precision",
         "ema", "augment", "mode-collapse")  # fmt: skip


@pytest.fixture(scope="module")
def ended_records(tmp_path_factory) -> tuple[Path, dict[str, int]]:
    records = tmp_path_factory.mktemp("records") / "records"
    shutil.copytree(RECORDS, records)
    return records, end_early(records)


@pytest.mark.slow  # about a minute per study, as the rebuild from the records
@pytest.mark.parametrize("name", (*BANDS, "random-architectures"))
def test_a_study_whose_runs_ended_at_different_steps_collects(ended_records, tmp_path, name):
    records, ended = ended_records
    out = tmp_path / name
    run_study(name, mode="collect", records=records, out=out)
    report = (out / "report.md").read_text()
    if name in BANDS:  # each mean-and-band caption says the band thins out where runs ended
        assert "ended at different steps (the stop rule)" in report
    if name == "loss-vs-quality":
        assert "(15–20 evaluations per run, 3 seeds)" in report
        points = {(r["objective"], r["seed"]): int(r["points"]) for r in csv_rows(out / "correlations.csv")}
        assert points == {(o, s): 15 if s == "1" else 20 for o in ("gan", "wgan", "wgan-gp") for s in "012"}
        stop = ended["image-runs/dcgan-bn-none/wgan-gp/seed-1"]
        steps = [
            int(r["step"]) for r in csv_rows(out / "curves.csv") if (r["objective"], r["seed"]) == ("wgan-gp", "1")
        ]
        assert max(steps) == stop < 3000
    if name == "clip-sweep":  # weights at ±c from each run's own last evaluation, not from the last step any run had
        curves = [r for r in csv_rows(out / "curves.csv") if r["variant"] == "clip-0.001"]
        lasts = [max((r for r in curves if r["seed"] == s), key=lambda r: int(r["step"])) for s in "012"]
        assert sorted(int(r["step"]) for r in lasts)[0] < 3000  # seed 1 ended early
        share = mean_std([100 * float(r["clip_share"]) for r in lasts]) + " %"
        assert any(line.startswith("| c = 0.001 |") and f"| {share} |" in line for line in report.splitlines())


def csv_rows(path: Path) -> list[dict]:
    with open(path) as handle:
        return list(csv.DictReader(handle))


def test_toy_curves_of_runs_that_ended_at_different_steps_are_drawn(tmp_path):
    from wganlab.studies import toy_training

    curves = [{"toy": "eight_gaussians", "objective": objective, "seed": seed, "step": step, "w1": 1 / step,
               "modes_hit": float(step), "estimate": -1.0 / step}
              for objective in toy_training.OBJECTIVES for seed, end in enumerate((4, 2, 3)) for step in
              range(1, end + 1)]  # fmt: skip
    path = tmp_path / toy_training.plot_curves(tmp_path, "eight_gaussians", curves).with_suffix(".png")
    assert path.exists() and path.stat().st_size > 0  # before style.by_step: "inhomogeneous shape" from numpy
