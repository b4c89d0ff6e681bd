"""benchmarks/eval_noise.py: a run's headline quality (W1 on the toys, FD on Fashion-MNIST) of one checkpoint on
independent draws, never written into the run, and the share of its late changes that two draws' noise alone gives."""

import csv
import importlib.util
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
FASHION = Path("/usr/share/datasets/fashion-mnist")


def load_script():
    spec = importlib.util.spec_from_file_location("eval_noise", ROOT / "benchmarks" / "eval_noise.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_late_change_share_by_hand():
    noise = load_script()
    # 8 evaluations: the first 8 // 4 = 2 are left out; changes of the rest: -2, 2, -2, 2, -2 (mean -0.4).
    series = [100.0, 50.0, 10.0, 8.0, 10.0, 8.0, 10.0, 8.0]
    variance, share = noise.late_change_share(series, sd=1.0)
    expected = float(np.var([-2, 2, -2, 2, -2], ddof=1))  # 4.8
    assert variance == pytest.approx(expected) and expected == pytest.approx(4.8)
    assert share == pytest.approx(2 * 1.0**2 / 4.8)
    assert all(math.isnan(v) for v in noise.late_change_share([3.0, 2.0, 1.0, 0.5], sd=1.0))  # 2 late changes: too few
    # 20 evaluations every 100 steps: the first 5 (steps 100-500) are left out, so noise counts from step 600.
    assert noise.late_steps(list(range(2000, 0, -100)))[0] == 600


def test_it_refuses_one_draw_and_a_folder_that_is_no_run(tmp_path, capsys):
    noise = load_script()
    assert noise.main([str(tmp_path), "--draws", "1"]) == 2
    assert "--draws 1 must be at least 2" in capsys.readouterr().err
    assert noise.main([str(tmp_path)]) == 2
    assert f"{tmp_path} holds no metrics.jsonl" in capsys.readouterr().err


def test_a_toy_run_is_measured_by_exact_w1_on_its_own_sample_count(tiny_config, tmp_path, capsys):
    from wganlab.training.loop import train
    from wganlab.training.quality import build_quality
    from wganlab.training.run_folder import RunFolder

    config = tiny_config("wgan-gp", "train.steps=4", "log.eval_every=2", "log.eval_samples=200",
                         "log.checkpoint_every=2", "log.keep_checkpoints=5")  # fmt: skip
    train(config, tmp_path / "toy", progress=False)
    noise = load_script()
    assert noise.main([str(tmp_path / "toy"), "--draws", "2", "--steps", "4", "--csv", str(tmp_path / "w.csv")]) == 0
    (row,) = list(csv.DictReader((tmp_path / "w.csv").open()))
    assert (row["metric"], row["n"], row["checkpoint"]) == ("w1", "200", "4")
    loaded = RunFolder(tmp_path / "toy").load_generator(4, "cpu")
    quality = build_quality(loaded.config)
    draws = [
        quality.measure(loaded.network, ("w1",), n=200, rng=torch.Generator().manual_seed(s))["w1"] for s in (1, 2)
    ]
    assert float(row["mean"]) == pytest.approx(np.mean(draws)) and draws[0] != draws[1]
    assert "w1 logged" in capsys.readouterr().out


@pytest.mark.slow  # trains a 4-step run and measures it: 8-16 s
@pytest.mark.skipif(not FASHION.is_dir(), reason="needs Fashion-MNIST")
def test_it_measures_each_kept_checkpoint_on_fresh_draws_and_leaves_the_run_alone(tmp_path, capsys):
    from wganlab.config import load_config
    from wganlab.training.loop import train
    from wganlab.training.quality import build_quality
    from wganlab.training.run_folder import RunFolder

    overrides = ["data.pad=2", "data.image_size=0", "model.channels=8", "train.device=cpu", "train.batch_size=16",
                 "train.steps=4", "log.eval_every=2", "log.eval_samples=64", "log.checkpoint_every=2",
                 "log.keep_checkpoints=5", "log.sample_every=100", "log.eval_metrics=fd_fmnist",
                 "log.final_metrics=fd_fmnist", "log.final_samples=64", "log.tensorboard=false"]  # fmt: skip
    config = load_config("fashion_mnist/gan", overrides)
    run = tmp_path / "run"
    train(config, run, progress=False)
    before = {p: p.stat().st_mtime_ns for p in run.rglob("*") if p.is_file()}
    noise = load_script()
    assert noise.main([str(run), "--draws", "3", "--n", "64", "--csv", str(tmp_path / "noise.csv")]) == 0
    assert {p: p.stat().st_mtime_ns for p in run.rglob("*") if p.is_file()} == before  # nothing written there
    rows = list(csv.DictReader((tmp_path / "noise.csv").open()))
    assert [r["checkpoint"] for r in rows] == ["2", "4", "best"]
    logged = {r["step"]: r["fd_fmnist"] for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines())
              if r.get("kind") == "eval"}  # fmt: skip
    assert int(rows[2]["step"]) == min(logged, key=logged.get)  # best.pt: the lowest logged FD's checkpoint
    folder = RunFolder(run)
    for row in rows:
        step = int(row["step"])
        assert float(row["logged"]) == pytest.approx(logged[step])
        loaded = folder.load_generator(step if row["checkpoint"] != "best" else "best", "cpu")
        quality = build_quality(loaded.config)
        draws = [quality.measure(loaded.network, ("fd_fmnist",), n=64, rng=torch.Generator().manual_seed(seed))
                 ["fd_fmnist"] for seed in (1, 2, 3)]  # fmt: skip
        assert float(row["mean"]) == pytest.approx(np.mean(draws))
        assert float(row["sd"]) == pytest.approx(np.std(draws, ddof=1)) and float(row["sd"]) > 0
        assert float(row["min"]) == pytest.approx(min(draws)) and float(row["max"]) == pytest.approx(max(draws))
    assert "2 evaluations, too few after the first quarter" in capsys.readouterr().out
    assert noise.main([str(run), "--steps", "3"]) == 2
    assert f"{run} has no kept checkpoint at step 3; kept: 2, 4" in capsys.readouterr().err
    assert noise.main([str(run), "--steps", "best,last"]) == 2
    assert "--steps 'best,last': give step numbers and/or best" in capsys.readouterr().err


def test_the_toy_table_rebuilds_from_the_committed_csvs():
    """benchmarks/results/eval_noise.md's toy table comes from toy-training's curves.csv and the measured CSVs."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "benchmarks/results/eval_noise/toy_shares.py"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert len(lines) == 15
    assert "eight_gaussians seed 0: noise sd 0.0107, share 0.27, ceiling 0.86" in lines
    assert "twenty_five_gaussians seed 2: noise sd 0.0088, share 1.12, ceiling 0.00" in lines
    assert "swiss_roll seed 3: noise sd 0.0080, share 0.76, ceiling 0.49" in lines
