import math

import numpy as np
import pytest
from torch.testing import assert_close

from wganlab.studies import loss_vs_quality_toy as loss_vs_quality
from wganlab.studies import toy_training
from wganlab.studies.common.report import write_csv
from wganlab.studies.common.runner import Plan
from wganlab.studies.common.toys import OBJECTIVES, snapshots, training_runs

TINY = ("model.generator_widths=32,32", "model.critic_widths=32,32", "train.batch_size=32")
SETTINGS = {"toys": ("eight_gaussians",), "steps": 4, "eval_every": 2, "eval_samples": 64}


def tiny_plan() -> Plan:
    runs = training_runs(("eight_gaussians",), OBJECTIVES, 1, steps=4, eval_every=2, eval_samples=64, extra=TINY)
    return Plan(toy_training.NAME, "quick", 1, runs, dict(SETTINGS))


@pytest.fixture(scope="module")
def study(tmp_path_factory, in_process):
    study_dir = tmp_path_factory.mktemp("studies") / "toy-training"
    in_process(tiny_plan(), study_dir)
    return study_dir


def test_plans_use_the_presets_and_log_at_every_eval_step():
    plan = toy_training.plan("default", None)
    assert len(plan.runs) == 3 * 4 * 5 and plan.seeds == 5
    wgan = plan.find(toy="eight_gaussians", objective="wgan", seed=0)[0].config()
    assert wgan.objective.clip_value == 0.01 and wgan.optim.optimizer == "rmsprop"
    assert wgan.log.log_every == wgan.log.eval_every == 100 and wgan.train.steps == 2000
    sngan = plan.find(objective="sngan")[0].config()
    assert (sngan.objective.loss, sngan.objective.constraint) == ("hinge", "spectral")
    assert toy_training.plan("default", 3).seeds == 3


def test_only_the_long_size_evaluates_on_the_same_draws():
    """W1's draw noise (3-6 % of WGAN-GP's W1 at 1,000 points) is above the plateau rule's 3 %: the long size, whose
    runs that rule stops, draws the same samples at every evaluation and its report says so; the committed default
    keeps new draws, and its setup sentence is unchanged."""
    for recipe in ("published", "seed"):
        long = toy_training.plan("long", 1, recipe=recipe)
        assert all(run.config().log.eval_same_draws for run in long.runs)
    assert not any(run.config().log.eval_same_draws for run in toy_training.plan("default", 1).runs)
    default = toy_training.setup(toy_training.plan("default", 1))
    assert any(line.endswith("1,000 fresh real samples (exact W1 by POT's emd2; modes as "
                             "`metrics.transport.mode_coverage`).") for line in default)  # fmt: skip
    said = " ".join(toy_training.setup(toy_training.plan("long", 1)))
    assert "the same draws at every evaluation (`log.eval_same_draws`)" in said and "eval_noise.md" in said
    assert "at most 100,000 generator steps, fewer where the plateau rule stopped a run" in said  # not "100,000 steps"
    assert any("; 2,000 generator steps; evaluation every 100 steps" in line for line in default)


def test_collect_reads_every_run(study):
    plan = tiny_plan()
    section = toy_training.collect(plan, study)
    finals = (study / "final.csv").read_text().splitlines()
    assert len(finals) == 1 + len(OBJECTIVES)
    assert "np.float64" not in (study / "curves.csv").read_text()  # numbers, not numpy reprs
    steps = [s for s, _ in snapshots(plan.folder(study, plan.runs[0]))]
    assert steps == [1, 2, 3, 4]  # checkpoint_every = steps // 4
    assert {f.path.name for f in section.figures} == {"samples_eight_gaussians", "curves_eight_gaussians"}
    assert all((study / f"{f.path}.png").stat().st_size > 10_000 for f in section.figures)
    rows = section.tables[0].rows
    assert [row[1] for row in rows] == ["GAN", "WGAN", "WGAN-GP", "SNGAN"]
    assert all(row[4].endswith("/ 8") for row in rows)  # modes of 8 Gaussians
    assert any("loss `hinge`, constraint `spectral`" in line for line in section.setup)


def test_rerun_writes_identical_result_files(study, tmp_path, in_process):
    plan = tiny_plan()
    in_process(plan, tmp_path)
    for folder in (study, tmp_path):
        finals, curves = toy_training.read_runs(plan, folder)
        write_csv(folder / "rerun" / "final.csv", finals)
        write_csv(folder / "rerun" / "curves.csv", curves)
    for name in ("final.csv", "curves.csv"):
        assert (study / "rerun" / name).read_bytes() == (tmp_path / "rerun" / name).read_bytes()


def test_loss_vs_quality_reads_toy_trainings_runs(study):
    shared = tiny_plan()
    plan = Plan(loss_vs_quality.NAME, "quick", 1, shared.runs, shared.settings, runs_dir="../toy-training/runs")
    out = study.parent / "loss-vs-quality-toy"
    out.mkdir()
    section = loss_vs_quality.collect(plan, out)
    assert section.tables[0].rows[0][3] == "2"  # two evaluation steps per run
    trend = section.tables[1]
    assert trend.columns == ["toy", "objective", "W1 vs step", "changes", "later changes", "partial", "between seeds"]
    assert [row[1] for row in trend.rows] == ["GAN", "WGAN", "WGAN-GP", "SNGAN"]
    assert all(row[3:6] == ["n/a"] * 3 for row in trend.rows)  # two evaluations: one change, nothing to correlate
    assert all(row[6] == "n/a (0)" for row in trend.rows)  # one seed: no other seed at any step
    assert (out / "plots" / "loss_vs_w1.png").exists()
    assert loss_vs_quality.plan("quick", None).runs_dir == "../toy-training-quick/runs"


def test_correlations_hand_values():
    result = loss_vs_quality.correlations([1.0, 2.0, 3.0], [2.0, 4.0, 7.0])
    assert_close(result["spearman"], 1.0)
    # r = cov / (sx sy) = 5 / sqrt(2 * 114 / 9)
    assert_close(result["pearson"], 5 / math.sqrt(2 * 114 / 9))
    assert_close(loss_vs_quality.correlations([3.0, 2.0, 1.0], [1.0, 2.0, 3.0])["spearman"], -1.0)
    assert math.isnan(loss_vs_quality.correlations([1.0, 1.0], [1.0, 2.0])["pearson"])
    assert not np.isnan(loss_vs_quality.correlations([1.0, 2.0], [2.0, 1.0])["spearman"])


def test_beyond_the_trend_by_hand():
    # Both fall at every evaluation (W1 against the step: Spearman -1), but each falls most where the other falls
    # least: the changes correlate at -1, and so do those after the first quarter (5 // 4 = 1 dropped: estimate
    # changes -1, -2, -1 against W1's -2, -1, -2).
    result = loss_vs_quality.beyond_trend([10.0, 8.0, 7.0, 5.0, 4.0], [10.0, 9.0, 7.0, 6.0, 4.0], [1, 2, 3, 4, 5])
    assert_close(result["spearman_w1_step"], -1.0)
    assert_close(result["change"], -1.0)
    assert_close(result["late_change"], -1.0)
    assert -1.0 <= result["partial"] <= 1.0
    assert math.isnan(loss_vs_quality.beyond_trend([1.0, 2.0], [2.0, 1.0], [1, 2])["change"])


def test_toy_tracking_script_recomputes_the_committed_correlations(capsys):
    """scripts/toy_tracking.py reads toy-training's committed curves.csv; its per-run Spearman and Pearson must be
    loss-vs-quality-toy's committed ones, or the file is not the report's data."""
    import csv
    import importlib.util
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    spec = importlib.util.spec_from_file_location("toy_tracking", root / "scripts" / "toy_tracking.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    rows = {(r["toy"], r["objective"], r["seed"]): r for r in script.rows_from(script.read(script.DEFAULT))}
    committed = list(csv.DictReader((root / "docs/studies/loss-vs-quality-toy/correlations.csv").open()))
    assert len(committed) == len(rows) == 60
    for record in committed:
        row = rows[record["toy"], record["objective"], int(record["seed"])]
        assert row["points"] == int(record["points"])
        for key in ("spearman", "pearson"):
            assert math.isclose(row[key], float(record[key]), rel_tol=1e-12, abs_tol=1e-12), (record, key)
    assert script.main([]) == 0
    printed = capsys.readouterr().out
    assert "| 8 Gaussians | WGAN-GP | -0.97 ± 0.0085 | 0.44 ± 0.13 |" in printed
    # Between seeds at the same step: 5 seeds at each of 20 steps give 100 pairs per toy and objective.
    assert "| Swiss roll | WGAN-GP | -0.97 ± 0.023 | 0.51 ± 0.095 | 0.18 ± 0.68 | 0.9 ± 0.068 | 0.86 (100) |" in printed
    assert script.main([str(root / "no-such.csv")]) == 2
    assert script.main([str(root / "docs/studies/loss-vs-quality-toy/correlations.csv")]) == 2  # not curves.csv
    assert "has no column step, w1" in capsys.readouterr().err
