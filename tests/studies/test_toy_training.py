import math

import pytest
from torch.testing import assert_close

from wganlab.studies import loss_vs_quality, toy_training
from wganlab.studies.report import read_csv, write_csv

TINY = {"toys": ("eight_gaussians",), "seeds": 1, "steps": 4, "eval_every": 2, "eval_samples": 64}


@pytest.fixture(scope="module")
def study_root(tmp_path_factory):
    """TINY runs laid out as `wganlab study all` writes them: <root>/toy-training/runs."""
    root = tmp_path_factory.mktemp("studies")
    toy_training.train_runs(root / "toy-training" / "runs", TINY)
    return root


def test_runs_use_presets_and_log_at_every_eval_step(study_root):
    config = toy_training.run_config("eight_gaussians", "wgan", 0, TINY)
    assert config.objective.clip_value == 0.01 and config.optim.optimizer == "rmsprop"
    assert config.log.log_every == config.log.eval_every == 2
    runs = study_root / "toy-training" / "runs"
    finals, curves = toy_training.collect(runs, TINY)
    assert [r["objective"] for r in finals] == ["gan", "wgan", "wgan-gp"]
    assert {r["step"] for r in curves} == {2, 4}
    assert all(not math.isnan(r["estimate"]) and r["w1"] > 0 for r in curves)
    assert all(r["modes_total"] == 8 for r in finals)
    steps = [s for s, _ in toy_training.snapshots(runs / "eight_gaussians" / "gan" / "seed-0")]
    assert steps == [1, 2, 3, 4]  # checkpoint_every = steps // 4


def test_rerun_writes_identical_csvs(study_root, tmp_path):
    toy_training.train_runs(tmp_path / "b" / "runs", TINY)
    for name, runs in (("a", study_root / "toy-training" / "runs"), ("b", tmp_path / "b" / "runs")):
        finals, curves = toy_training.collect(runs, TINY)
        write_csv(tmp_path / name / "final.csv", finals)
        write_csv(tmp_path / name / "curves.csv", curves)
    for csv in ("final.csv", "curves.csv"):
        assert (tmp_path / "a" / csv).read_bytes() == (tmp_path / "b" / csv).read_bytes()
    assert read_csv(tmp_path / "a" / "final.csv")[0]["toy"] == "eight_gaussians"


def test_finished_runs_are_found_and_reused(study_root):
    out = study_root / "loss-vs-quality-toy"
    assert loss_vs_quality.find_runs(out, TINY) == study_root / "toy-training" / "runs"
    assert loss_vs_quality.find_runs(out, {**TINY, "steps": 6}) == out / "runs"


def test_correlations_hand_values():
    result = loss_vs_quality.correlations([1.0, 2.0, 3.0], [2.0, 4.0, 7.0])
    assert_close(result["spearman"], 1.0)
    # r = cov / (sx sy) = 5 / sqrt(2 * 114 / 9)
    assert_close(result["pearson"], 5 / math.sqrt(2 * 114 / 9))
    assert_close(loss_vs_quality.correlations([3.0, 2.0, 1.0], [1.0, 2.0, 3.0])["spearman"], -1.0)
    assert math.isnan(loss_vs_quality.correlations([1.0, 1.0], [1.0, 2.0])["pearson"])
