"""The mode-collapse study: every size's runs with their exact settings, the stacked set built into the user cache
by `prepare`, and `wganlab study mode-collapse --quick` end to end (slow tier)."""

import json
import shutil

import numpy as np
import pytest

from wganlab.cli import main
from wganlab.errors import ConfigError
from wganlab.files import resolve_user_path
from wganlab.studies import mode_collapse
from wganlab.studies.common.report import read_csv
from wganlab.studies.common.runner import StudyError
from wganlab.studies.common.study import make_plan

PUBLISHED = {
    # objective: (loss, constraint, optimizer, lr, n_critic)
    "gan": ("standard", "none", "adam", 2e-4, 1),
    "wgan": ("wasserstein", "clip", "rmsprop", 5e-5, 5),
    "wgan-gp": ("wasserstein", "penalty", "adam", 1e-4, 5),
    "sngan": ("hinge", "spectral", "adam", 2e-4, 5),
}
SEED002 = {"gan": ("adam", 2e-4, 1), "wgan": ("rmsprop", 2e-4, 4), "wgan-gp": ("adam", 2e-4, 4)}
# size: (steps, eval_every, eval_samples, final_samples, channels, batch, images in the stacked set)
EXPECTED = {
    "quick": (20, 10, 500, 1000, 8, 32, 2000),
    "default": (3000, 300, 10_000, 26_000, 32, 64, 128_000),
    "long": (50_000, 500, 10_000, 26_000, 32, 64, 128_000),
    "paper": (50_000, 2500, 10_000, 26_000, 64, 64, 128_000),
}


@pytest.mark.parametrize("size", EXPECTED)
def test_every_size_plans_four_objectives_on_the_stacked_set_with_their_published_recipes(size, isolated_user_cache):
    steps, every, eval_n, final_n, channels, batch, count = EXPECTED[size]
    plan = make_plan("mode-collapse", size, None)
    seeds = 1 if size == "quick" else 3
    assert plan.runs_dir == ("../stacked-runs" if size == "default" else f"../stacked-runs-{size}")
    assert sorted((r.label("objective"), r.label("seed")) for r in plan.runs) == sorted(
        (o, s) for o in mode_collapse.OBJECTIVES for s in range(seeds)
    )
    for run in plan.runs:
        config = run.config()
        objective = run.label("objective")
        assert run.key == f"dcgan-bn-none/{objective}/seed-{run.label('seed')}"
        loss, constraint, optimizer, lr, n_critic = PUBLISHED[objective]
        assert (config.objective.loss, config.objective.constraint, config.objective.n_critic) == (
            loss,
            constraint,
            n_critic,
        )
        assert (config.optim.optimizer, config.optim.generator_lr, config.optim.critic_lr) == (optimizer, lr, lr)
        folder = isolated_user_cache / "datasets" / ("stacked-fashion-mnist" + ("" if count == 128_000 else "-2000"))
        assert (config.data.source, resolve_user_path(config.data.path), config.data.pad, config.data.channels) == (
            "array",
            str(folder / "stacked.npz"),
            2,
            3,
        )
        assert config.data.path == f"cache:{folder.relative_to(isolated_user_cache).as_posix()}/stacked.npz"
        assert (config.model.architecture, config.model.channels, config.model.z_dim) == ("dcgan", channels, 128)
        assert (config.model.generator_norm, config.model.critic_norm) == ("batch", "none")
        assert (config.train.steps, config.train.batch_size, config.train.seed) == (steps, batch, run.label("seed"))
        assert config.log.eval_metrics == ("modes_stacked",) and config.log.final_metrics == ("modes_stacked",)
        assert (config.log.eval_every, config.log.eval_samples, config.log.final_samples) == (every, eval_n, final_n)
        if size == "long":
            assert (config.train.stop_rule, config.train.stop_min_evaluations, config.train.stop_tolerance) == (
                "plateau",
                8,
                0.03,
            )
        else:
            assert config.train.stop_rule == "none"


def test_the_seed_recipe_is_seed_002s_table_1_and_sngan_keeps_its_own_at_batch_256():
    for size in ("default", "long"):
        plan = make_plan("mode-collapse", size, 1, recipe="seed")
        assert plan.runs_dir == ("../stacked-runs-seed002" if size == "default" else "../stacked-runs-long-seed002")
        for run in plan.runs:
            config, objective = run.config(), run.label("objective")
            assert config.train.batch_size == 256
            if objective in SEED002:
                assert (config.optim.optimizer, config.optim.critic_lr, config.objective.n_critic) == SEED002[objective]
            else:
                assert (config.optim.optimizer, config.optim.critic_lr, config.objective.n_critic) == ("adam", 2e-4, 5)
            if size == "long":  # capped at the seed's own 1,000 epochs
                assert config.train.epochs == 1000 and config.train.stop_rule == "plateau"
            else:
                assert config.train.steps == 3000 and config.train.epochs == 0


def test_one_channel_data_is_refused():
    with pytest.raises(ConfigError, match="1 channel"):
        make_plan("mode-collapse", "quick", 1, "fashion_mnist/gan")


def test_prepare_builds_the_stacked_set_once_and_refuses_another(isolated_user_cache):
    plan = make_plan("mode-collapse", "quick", 1)
    folder = mode_collapse.stacked_folder(2000)
    assert folder == isolated_user_cache / "datasets" / "stacked-fashion-mnist-2000"
    mode_collapse.prepare(plan)
    manifest = json.loads((folder / "dataset.json").read_text())
    assert (manifest["count"], manifest["seed"], manifest["split"]) == (2000, 0, "train")
    with np.load(folder / "stacked.npz") as stored:
        assert stored["images"].shape == (2000, 3, 28, 28) and stored["labels"].shape == (2000, 3)
    before = (folder / "stacked.npz").stat().st_mtime_ns
    mode_collapse.prepare(plan)  # present: not built again
    assert (folder / "stacked.npz").stat().st_mtime_ns == before
    (folder / "dataset.json").write_text(json.dumps({**manifest, "seed": 7}))
    with pytest.raises(StudyError, match="another stacked set"):
        mode_collapse.prepare(plan)
    (folder / "dataset.json").write_text(json.dumps(manifest))


@pytest.mark.slow
def test_quick_study_runs_end_to_end_from_the_cli(tmp_path, capsys):
    """`wganlab study mode-collapse --quick`: builds its data, trains 4 runs, collects (about 3-5 min on 2 busy
    cores)."""
    out = tmp_path / "mode-collapse-quick"
    assert main(["study", "mode-collapse", "--quick", "--out", str(out), "--jobs", "2"]) in (0, None)
    runs = read_csv(out / "runs.csv")
    assert sorted(r["objective"] for r in runs) == sorted(mode_collapse.OBJECTIVES)
    assert all(r["status"] == "finished" and r["samples"] == "1000" for r in runs)
    assert all(0 <= int(r["covered"]) <= 1000 and 0 <= float(r["kl"]) <= np.log(1000) + 1e-9 for r in runs)
    assert all(float(r["fd_r"]) > 0 and float(r["fd_b"]) > 0 for r in runs)
    curves = read_csv(out / "curves.csv")
    assert sorted({int(r["step"]) for r in curves}) == [10, 20] and len(curves) == 8
    ceiling = json.loads((out / "ceiling.json").read_text())
    assert (ceiling["eval"]["n"], ceiling["final"]["n"]) == (500, 1000)
    assert ceiling["final"]["labels_covered"] >= ceiling["eval"]["labels_covered"]
    histograms = read_csv(out / "histograms.csv")
    assert all(sum(map(int, r["sorted_counts"].split())) == 500 for r in histograms)
    for plot in ("modes_over_training", "mode_histograms", "samples"):
        assert (out / "plots" / f"{plot}.png").stat().st_size > 10_000
    report = (out / "report.md").read_text()
    assert "real training images (n = 1,000)" in report and "SNGAN" in report
    # Collected again without any checkpoint (as from the committed records): the histograms and per-channel FD
    # come from each run's final-measures.json, so every table is the same.
    before = {name: (out / name).read_text() for name in ("runs.csv", "histograms.csv", "curves.csv")}
    for checkpoints in (tmp_path / "stacked-runs-quick").rglob("checkpoints"):
        shutil.rmtree(checkpoints)
    assert main(["study", "mode-collapse", "--quick", "--collect", "--out", str(out)]) in (0, None)
    assert {name: (out / name).read_text() for name in before} == before


def test_the_study_command_prepares_the_data_for_running_and_planning_but_not_for_collecting(tmp_path, monkeypatch):
    from wganlab.studies.common.study import run_study

    calls = []
    monkeypatch.setattr(mode_collapse, "prepare", lambda plan: calls.append(plan.size))
    run_study("mode-collapse", size="quick", out=tmp_path, mode="plan")
    assert calls == ["quick"]
    with pytest.raises(StudyError, match="not finished"):
        run_study("mode-collapse", size="quick", out=tmp_path, mode="collect")
    assert calls == ["quick"]
