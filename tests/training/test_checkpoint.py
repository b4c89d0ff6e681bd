import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from wganlab.errors import CheckpointError, ConfigError, TrainingDiverged
from wganlab.objectives import Wasserstein
from wganlab.training import loop
from wganlab.training.checkpoint import Checkpointer, load_checkpoint
from wganlab.training.run_folder import RunFolder


def assert_same_networks(a, b):
    for (name, x), (_, y) in zip(
        a.generator.network.state_dict().items(), b.generator.network.state_dict().items(), strict=True
    ):
        assert torch.equal(x, y), name
    for (name, x), (_, y) in zip(
        a.critic.network.state_dict().items(), b.critic.network.state_dict().items(), strict=True
    ):
        assert torch.equal(x, y), name


def train_records(run_dir: Path) -> list[dict]:
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return rows


@pytest.mark.parametrize("objective", ["gan", "wgan", "wgan-gp", "sngan"])
def test_resume_continues_bitwise(tiny_config, tmp_path, objective):
    common = ["log.log_every=3", "log.checkpoint_every=3", "log.sample_every=100"]
    whole = loop.train(tiny_config(objective, "train.steps=6", *common), tmp_path / "whole", progress=False)
    loop.train(tiny_config(objective, "train.steps=3", *common), tmp_path / "split", progress=False)
    resumed_config = tiny_config(objective, "train.steps=6", *common)
    RunFolder(tmp_path / "split").check_resume(resumed_config)
    resumed = loop.train(resumed_config, tmp_path / "split", resume=True, progress=False)
    assert resumed.step == whole.step == 6
    assert_same_networks(whole, resumed)
    for a, b in zip(whole.critic.optimizer.state.values(), resumed.critic.optimizer.state.values(), strict=True):
        assert all(torch.equal(torch.as_tensor(a[k]), torch.as_tensor(b[k])) for k in a)
    assert torch.equal(whole.noise_rng.get_state(), resumed.noise_rng.get_state())
    assert train_records(tmp_path / "whole") == train_records(tmp_path / "split")


@pytest.mark.parametrize("objective", ["gan", "wgan-gp"])
def test_checkpoint_cadence_does_not_change_what_a_run_computes(tiny_config, tmp_path, objective):
    # The study runner treats folders that differ only in checkpoint cadence as the same run: check that they are.
    common = ["train.steps=6", "log.log_every=2", "log.sample_every=100"]
    every = loop.train(tiny_config(objective, *common, "log.checkpoint_every=1", "log.keep_checkpoints=6"),
                       tmp_path / "every", progress=False)  # fmt: skip
    last = loop.train(tiny_config(objective, *common, "log.checkpoint_every=6", "log.keep_checkpoints=1"),
                      tmp_path / "last", progress=False)  # fmt: skip
    assert len(RunFolder(tmp_path / "every").step_checkpoints()) == 6
    assert len(RunFolder(tmp_path / "last").step_checkpoints()) == 1
    assert_same_networks(every, last)
    assert train_records(tmp_path / "every") == train_records(tmp_path / "last")


def test_resume_refuses_a_changed_setting(tiny_config, tmp_path):
    loop.train(tiny_config("wgan", "train.steps=2"), tmp_path / "run", progress=False)
    with pytest.raises(ConfigError, match="objective.clip_value"):
        RunFolder(tmp_path / "run").check_resume(tiny_config("wgan", "train.steps=4", "objective.clip_value=0.1"))
    RunFolder(tmp_path / "run").check_resume(tiny_config("wgan", "train.steps=4", "log.log_every=1"))


def test_checkpoint_loads_with_weights_only_and_holds_everything(tiny_config, tmp_path):
    loop.train(tiny_config("wgan-gp", "train.steps=2"), tmp_path / "run", progress=False)
    payload = torch.load(tmp_path / "run/checkpoints/latest.pt", weights_only=True)
    assert payload["step"] == 2
    expected = {"generator", "critic", "generator_opt", "critic_opt", "rng", "data", "config", "images_seen"}
    assert expected <= set(payload)
    assert {"data", "noise", "torch", "numpy", "python"} <= set(payload["rng"])
    weights = load_file(tmp_path / "run/checkpoints/generator.safetensors")
    for name, value in payload["generator"].items():
        assert torch.equal(weights[name], value)


def test_keeps_the_last_k_step_checkpoints_and_the_best(tiny_config, tmp_path):
    config = tiny_config(
        "wgan-gp",
        "train.steps=8",
        "log.checkpoint_every=2",
        "log.keep_checkpoints=2",
        "log.eval_every=4",
        "log.eval_samples=200",
    )
    loop.train(config, tmp_path / "run", progress=False)
    names = sorted(p.name for p in (tmp_path / "run/checkpoints").iterdir())
    assert names == ["best.pt", "generator.safetensors", "latest.pt", "step-00000006.pt", "step-00000008.pt"]
    best = torch.load(tmp_path / "run/checkpoints/best.pt", weights_only=True)
    evals = [r for r in train_records(tmp_path / "run") if r["kind"] == "eval"]
    assert best["best_metric"] == min(r["w1"] for r in evals)


def test_non_finite_loss_stops_training_and_keeps_the_last_good_checkpoint(tiny_config, tmp_path, monkeypatch):
    config = tiny_config("wgan-gp", "train.steps=10", "log.log_every=2", "log.checkpoint_every=3")
    original = Wasserstein.critic_loss
    calls = {"n": 0}

    def poisoned(self, real_scores, fake_scores):
        calls["n"] += 1
        loss = original(self, real_scores, fake_scores)
        return loss * float("nan") if calls["n"] > 5 * 4 else loss  # from generator step 5 on

    monkeypatch.setattr(Wasserstein, "critic_loss", poisoned)
    latest = tmp_path / "run/checkpoints/latest.pt"
    with pytest.raises(TrainingDiverged, match=r"step 6: non-finite loss .*latest\.pt left untouched"):
        loop.train(config, tmp_path / "run", progress=False)
    assert torch.load(latest, weights_only=True)["step"] == 3
    outcome = RunFolder(tmp_path / "run").outcome()
    assert (outcome["status"], outcome["step"]) == ("diverged", 6) and "non-finite loss" in outcome["message"]


def test_a_corrupt_latest_is_set_aside_and_rebuilt_from_the_newest_step_file(tiny_config, tmp_path):
    run = tmp_path / "run"
    loop.train(tiny_config("wgan", "train.steps=3", "log.checkpoint_every=1"), run, progress=False)
    latest = run / "checkpoints/latest.pt"
    os.unlink(latest)
    latest.write_bytes(b"not a checkpoint")
    with pytest.warns(UserWarning, match=r"set aside as \*\.corrupt: latest\.pt \(corrupt or not a wganlab"):
        s = loop.train(tiny_config("wgan", "train.steps=4"), run, resume=True, progress=False)
    assert s.step == 4
    assert (run / "checkpoints/latest.pt.corrupt").read_bytes() == b"not a checkpoint"  # kept, not deleted
    assert load_checkpoint(latest)["step"] == 4


def test_checkpoints_that_all_fail_to_load_give_a_clear_error_and_overwrite_nothing(tiny_config, tmp_path):
    run = tmp_path / "run"
    loop.train(tiny_config("wgan", "train.steps=2", "log.checkpoint_every=1"), run, progress=False)
    files = sorted((run / "checkpoints").glob("*.pt"))
    for path in files:
        os.unlink(path)
        path.write_bytes(b"not a checkpoint")
    message = (
        r"no checkpoint in .*checkpoints loads: step-00000002\.pt \(corrupt or not a wganlab checkpoint: "
        r"UnpicklingError\), step-00000001\.pt .*; move them away to start the run over"
    )
    with pytest.raises(CheckpointError, match=message):
        loop.train(tiny_config("wgan", "train.steps=6"), run, resume=True, progress=False)
    assert all(path.read_bytes() == b"not a checkpoint" for path in files)
    with pytest.raises(CheckpointError, match="no checkpoint at"):
        load_checkpoint(tmp_path / "elsewhere.pt")


TRAIN = [
    sys.executable,
    "-m",
    "wganlab",
    "train",
    "configs/eight_gaussians/wgan-gp.toml",
    "model.generator_widths=32,32",
    "model.critic_widths=32,32",
    "train.batch_size=32",
    "train.steps=60",
    "log.checkpoint_every=5",
    "log.sample_every=1000",
    "log.eval_every=0",
    "log.progress=false",
    "log.tensorboard=false",
    "train.device=cpu",
]
ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}

# Kills the process (SIGKILL, no clean-up) in the middle of writing its third checkpoint.
KILL_DURING_WRITE = """
import os, signal, sys, torch
import wganlab.training.checkpoint as checkpoint
real_save, count = torch.save, [0]
def dying_save(obj, path):
    count[0] += 1
    if count[0] == 3:
        with open(path, "wb") as handle:
            handle.write(b"half a checkpoint")
            handle.flush()
        os.kill(os.getpid(), signal.SIGKILL)
    real_save(obj, path)
checkpoint.torch.save = dying_save
from wganlab.cli import main
sys.exit(main(sys.argv[1:]))
"""


def final_generator(run_dir: Path) -> dict:
    return load_file(run_dir / "checkpoints/generator.safetensors")


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    out = tmp_path_factory.mktemp("whole") / "run"
    subprocess.run([*TRAIN, "--out", str(out)], check=True, cwd=ROOT, env=ENV, capture_output=True)
    return final_generator(out)


@pytest.mark.slow  # long: the slow tier (CI runs it) keeps it
def test_sigkill_mid_run_then_resume_matches_an_uninterrupted_run(tmp_path, uninterrupted):
    out = tmp_path / "run"
    process = subprocess.Popen(
        [*TRAIN, "--out", str(out)], cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.time() + 60
    # Once step 25 is on disk, latest.pt points at step 20 or later (it is linked just after each step file).
    while not (out / "checkpoints/step-00000025.pt").exists() and time.time() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL
    step = torch.load(out / "checkpoints/latest.pt", weights_only=True)["step"]
    assert 20 <= step < 60
    subprocess.run([*TRAIN, "--out", str(out), "--resume"], check=True, cwd=ROOT, env=ENV, capture_output=True)
    resumed = final_generator(out)
    assert all(torch.equal(uninterrupted[name], resumed[name]) for name in uninterrupted)


@pytest.mark.slow  # tests/reliability/test_kills.py kills at every stage of every write, in the default tier too
def test_sigkill_during_a_checkpoint_write_leaves_the_previous_one_whole(tmp_path, uninterrupted):
    out = tmp_path / "run"
    killed = subprocess.run(
        [sys.executable, "-c", KILL_DURING_WRITE, *TRAIN[3:], "--out", str(out)],
        cwd=ROOT,
        env=ENV,
        capture_output=True,
    )
    assert killed.returncode == -signal.SIGKILL
    assert torch.load(out / "checkpoints/latest.pt", weights_only=True)["step"] == 10  # the 2nd of 3 saves
    subprocess.run([*TRAIN, "--out", str(out), "--resume"], check=True, cwd=ROOT, env=ENV, capture_output=True)
    resumed = final_generator(out)
    assert all(torch.equal(uninterrupted[name], resumed[name]) for name in uninterrupted)
    assert not list((out / "checkpoints").glob(".*.tmp"))  # the half-written temp file was cleared away


@pytest.mark.parametrize(("objective", "critic_updates"), [("gan", 1), ("wgan-gp", 5)])
def test_a_record_that_spans_a_resume_equals_the_uninterrupted_one(tiny_config, tmp_path, monkeypatch, objective,
                                                                     critic_updates):  # fmt: skip
    # Records at 4 and 8, checkpoints at 3, 6 and 8: the record at 4 averages steps 1-4, and a run stopped after
    # the checkpoint at 3 must bring the sums of steps 1-3 back from it.
    config = tiny_config(objective, "train.steps=8", "log.log_every=4", "log.checkpoint_every=3", "log.sample_every=99")
    loop.train(config, tmp_path / "whole", progress=False)
    save = Checkpointer.save

    def save_then_stop(self, s, end=None):
        path = save(self, s, end)
        if s.step == 3:
            raise KeyboardInterrupt
        return path

    monkeypatch.setattr(Checkpointer, "save", save_then_stop)
    with pytest.raises(KeyboardInterrupt):
        loop.train(config, tmp_path / "split", progress=False)
    monkeypatch.undo()
    stats = load_checkpoint(tmp_path / "split/checkpoints/step-00000003.pt")["stats"]
    assert stats["counts"]["critic_loss"] == 3 * critic_updates and stats["counts"]["generator_loss"] == 3
    loop.train(config, tmp_path / "split", resume=True, progress=False)
    whole, split = ((tmp_path / name / "metrics.jsonl").read_bytes() for name in ("whole", "split"))
    assert whole == split and split.count(b"\n") == 2


def test_a_run_killed_before_its_first_checkpoint_starts_again_with_a_notice(tiny_config, tmp_path):
    run = tmp_path / "run"
    loop.train(tiny_config("wgan", "train.steps=2", "log.checkpoint_every=2"), run, progress=False)
    whole = load_checkpoint(run / "checkpoints/latest.pt")
    # What a kill during the first checkpoint leaves: its temp file, config.toml, a record, no checkpoint.
    for path in (run / "checkpoints").iterdir():
        path.unlink()
    (run / "checkpoints/.step-00000002.pt.abcd.tmp").write_bytes(b"half a checkpoint")
    assert not RunFolder(run).holds_run()
    for resume in (True, False):  # with --resume, and as a new run (not refused as "already holds a run")
        with pytest.warns(UserWarning, match=r"run holds no complete checkpoint; starting the run from step 0"):
            s = loop.train(tiny_config("wgan", "train.steps=2", "log.checkpoint_every=2"), run, resume=resume,
                           progress=False)  # fmt: skip
        assert s.step == 2
        assert all(torch.equal(whole["generator"][k], v) for k, v in s.generator.network.state_dict().items())
        assert not list(run.rglob("*.tmp"))
        for path in (run / "checkpoints").iterdir():
            path.unlink()


def test_a_step_file_without_latest_is_resumed_and_its_companions_rebuilt(tiny_config, tmp_path):
    run = tmp_path / "run"
    config = tiny_config("wgan", "train.steps=4", "log.checkpoint_every=2")
    loop.train(config, run, progress=False)
    whole_generator = final_generator(run)
    (run / "checkpoints/latest.pt").unlink()
    (run / "checkpoints/generator.safetensors").unlink()
    (run / "outcome.json").unlink()
    with pytest.warns(UserWarning, match=r"^rebuilt generator.safetensors and latest.pt from step-00000004.pt$"):
        s = loop.train(config, run, resume=True, progress=False)
    assert s.step == 4 and RunFolder(run).outcome()["status"] == "finished"
    assert load_checkpoint(run / "checkpoints/latest.pt")["step"] == 4
    assert all(torch.equal(whole_generator[k], v) for k, v in final_generator(run).items())


def test_sample_and_eval_read_the_newest_step_file_when_generator_file_is_behind(tiny_config, tmp_path):
    run = tmp_path / "run"
    loop.train(tiny_config("wgan", "train.steps=4", "log.checkpoint_every=2", "log.keep_checkpoints=5"), run,
               progress=False)  # fmt: skip
    newest = final_generator(run)
    # A kill after step-00000004.pt, before its generator.safetensors: the file still holds step 2.
    older = torch.load(run / "checkpoints/step-00000002.pt", weights_only=True)["generator"]
    save_file({k: v.contiguous() for k, v in older.items()}, run / "checkpoints/generator.safetensors",
              metadata={"step": "2"})  # fmt: skip
    with pytest.warns(UserWarning, match=r"generator.safetensors is not from the newest checkpoint; reading "
                                         r"step-00000004.pt instead \(resuming the run rebuilds it\)"):  # fmt: skip
        loaded = RunFolder(run).load_generator("latest")
    assert loaded.step == 4
    assert all(torch.equal(newest[k], v) for k, v in loaded.network.state_dict().items())


def test_no_evaluation_yet_is_stored_as_none_not_infinity(tiny_config, tmp_path):
    loop.train(tiny_config("wgan", "train.steps=2", "log.eval_every=0"), tmp_path / "run", progress=False)
    assert load_checkpoint(tmp_path / "run/checkpoints/latest.pt")["best_metric"] is None
    s = loop.train(tiny_config("wgan", "train.steps=3", "log.eval_every=0"), tmp_path / "run", resume=True,
                   progress=False)  # fmt: skip
    assert s.best_metric == float("inf")


def test_generator_file_bytes_do_not_depend_on_the_process():
    """safetensors writes its metadata in hash order, which changes from one interpreter to the next; the
    canonical header makes a resumed run's generator.safetensors the same bytes as an uninterrupted run's."""
    script = (
        "import hashlib, sys, torch\n"
        "from safetensors.torch import save\n"
        "from wganlab.training.checkpoint import canonical_safetensors\n"
        "tensors = {'b': torch.arange(3.0), 'a': torch.ones(2, 2)}\n"
        "metadata = {'format': 'f', 'step': '8', 'config': 'c', 'sample_shape': '[2]', 'wganlab': '0'}\n"
        "raw = save(tensors, metadata=metadata)\n"
        "print(hashlib.sha256(canonical_safetensors(raw)).hexdigest(), hashlib.sha256(raw).hexdigest())\n"
    )
    import subprocess
    import sys

    runs = [subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.split()
            for _ in range(2)]  # fmt: skip
    assert len({canonical for canonical, _ in runs}) == 1
    from safetensors.torch import load, save

    from wganlab.training.checkpoint import canonical_safetensors

    tensors = {"b": torch.arange(3.0), "a": torch.ones(2, 2)}
    loaded = load(canonical_safetensors(save(tensors, metadata={"z": "1", "a": "2"})))
    assert torch.equal(loaded["a"], tensors["a"]) and torch.equal(loaded["b"], tensors["b"])
