"""NaN and infinity injected into the networks, a buffer or the optimiser state at every alignment of the log,
eval and checkpoint intervals: training stops as diverged no later than the next checkpoint, and no checkpoint
file (best.pt included) ever holds a non-finite value; no evaluation of non-finite samples is recorded."""

import json
import re
from pathlib import Path

import pytest
import torch
from finite import checkpoint_files, non_finite_in_file

from wganlab.cli import main
from wganlab.errors import TrainingDiverged
from wganlab.training import loop
from wganlab.training.run_folder import RunFolder

# Records every 2 steps, evaluations every 3, checkpoints every 4: every alignment comes round within 12 steps.
INTERVALS = ["log.log_every=2", "log.eval_every=3", "log.checkpoint_every=4", "log.keep_checkpoints=20"]
STEPS = 13


def poison_generator_weight(s):
    next(s.generator.network.parameters()).data[0] = float("nan")


def poison_critic_weight(s):
    next(s.critic.network.parameters()).data[-1] = float("inf")


def poison_critic_adam_second_moment(s):
    # What Adam holds after a gradient of 1e30: exp_avg_sq overflows while every parameter stays finite.
    state = next(iter(s.critic.optimizer.state.values()))
    state["exp_avg_sq"].fill_(float("inf"))


def poison_generator_adam_first_moment(s):
    next(iter(s.generator.optimizer.state.values()))["exp_avg"].fill_(float("nan"))


def poison_spectral_norm_vector(s):
    # v, not u: each power iteration recomputes u from v, so a NaN u alone heals at the next forward pass.
    next(b for n, b in s.critic.network.named_buffers() if n.endswith("_v")).fill_(float("nan"))


TARGETS = {
    "generator weight": ("wgan-gp", poison_generator_weight),
    "critic weight": ("wgan-gp", poison_critic_weight),
    "critic Adam exp_avg_sq": ("wgan-gp", poison_critic_adam_second_moment),
    "generator Adam exp_avg": ("gan", poison_generator_adam_first_moment),
    "critic spectral-norm buffer": ("sngan", poison_spectral_norm_vector),
}


def next_checkpoint(step: int) -> int:
    return min(-(-step // 4) * 4, STEPS)


def train_poisoned(tiny_config, run_dir: Path, monkeypatch, objective: str, poison, at_step: int):
    original = loop.train_step

    def poisoned_step(s):
        original(s)
        if s.step == at_step:
            poison(s)

    monkeypatch.setattr(loop, "train_step", poisoned_step)
    config = tiny_config(objective, f"train.steps={STEPS}", "log.eval_samples=64", "log.sample_every=100", *INTERVALS)
    with pytest.raises(TrainingDiverged) as stopped:
        loop.train(config, run_dir, progress=False)
    return str(stopped.value)


def check_nothing_non_finite_was_kept(run_dir: Path, at_step: int) -> int:
    """Asserts it, and returns how many checkpoint files were scanned."""
    files = checkpoint_files(run_dir)
    assert {path.name: non_finite_in_file(path) for path in files} == {path.name: 0 for path in files}
    outcome = RunFolder(run_dir).outcome()
    assert outcome["status"] == "diverged"
    assert at_step <= outcome["step"] <= next_checkpoint(at_step)
    for kept in (path for path in files if path.suffix == ".pt"):  # best.pt alone if poisoned before a checkpoint
        assert torch.load(kept, weights_only=True)["step"] < at_step, kept
    for record in RunFolder(run_dir).records("eval"):
        # NaN points give POT's exact W1 as 0.0: a perfect score is the sign of a NaN network scored.
        assert record["w1"] > 0 and all(v == v for v in record.values() if isinstance(v, float)), record
    return len(files)


def run_grid(tiny_config, tmp_path, monkeypatch, target: str, steps) -> None:
    objective, poison = TARGETS[target]
    scanned = 0
    for at_step in steps:
        run_dir = tmp_path / f"{target.replace(' ', '-')}-{at_step}"
        with monkeypatch.context() as patch:
            message = train_poisoned(tiny_config, run_dir, patch, objective, poison, at_step)
        assert message.startswith(f"step {RunFolder(run_dir).outcome()['step']}: ")
        scanned += check_nothing_non_finite_was_kept(run_dir, at_step)
    # For docs/reliability.md (pytest -s shows it): every file was scanned and held no non-finite value.
    print(f"\nNaN grid, {target}: {len(steps)} runs diverged, {scanned} checkpoint files scanned, 0 non-finite")


@pytest.mark.parametrize("target", TARGETS)
def test_injected_non_finite_values_never_reach_a_checkpoint(tiny_config, tmp_path, monkeypatch, target):
    # Two alignments here (between records; on an evaluation step); every alignment in the slow test.
    run_grid(tiny_config, tmp_path, monkeypatch, target, (3, 5))


@pytest.mark.slow
@pytest.mark.parametrize("target", TARGETS)
def test_at_every_alignment_of_the_intervals(tiny_config, tmp_path, monkeypatch, target):
    run_grid(tiny_config, tmp_path, monkeypatch, target, range(1, 13))


def test_infinite_adam_state_is_named_and_stops_training(tiny_config, tmp_path, monkeypatch):
    message = train_poisoned(tiny_config, tmp_path / "run", monkeypatch, "wgan-gp", poison_critic_adam_second_moment, 5)
    # Parameters and losses stay finite (an infinite second moment makes Adam's update 0): only the state checks
    # see it, at the next best.pt (step 6, if its evaluation improves) or the next checkpoint (step 8).
    assert re.fullmatch(
        r"step (6|8): critic optimiser state 0\.exp_avg_sq became non-finite; training stopped, "
        r"last good checkpoint .*/run/checkpoints/latest\.pt left untouched",
        message,
    )
    assert torch.load(tmp_path / "run/checkpoints/latest.pt", weights_only=True)["step"] == 4


def test_the_issue_repro_diverges_with_exit_3_and_no_score_for_nan_samples(tmp_path, capsys):
    # `objective.penalty_weight=1e36` makes the networks NaN within the first evaluation interval.
    run_dir = tmp_path / "R"
    argv = ["train", "eight_gaussians/wgan-gp", "--out", str(run_dir), "objective.penalty_weight=1e36"]
    small = ["model.generator_widths=16,16", "model.critic_widths=16,16", "train.batch_size=16", "train.steps=60"]
    logging = ["log.log_every=50", "log.eval_every=25", "log.checkpoint_every=50", "log.eval_samples=64"]
    quiet = ["log.progress=false", "log.tensorboard=false", "train.device=cpu"]
    assert main([*argv, *small, *logging, *quiet]) == TrainingDiverged.exit_code
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("wganlab train: diverged: step 25: the generator's samples are non-finite")
    assert not (run_dir / "checkpoints" / "best.pt").exists()
    assert not (run_dir / "metrics.jsonl").exists() or all(
        json.loads(line)["kind"] != "eval" for line in (run_dir / "metrics.jsonl").read_text().splitlines()
    )
    assert RunFolder(run_dir).outcome()["status"] == "diverged"
