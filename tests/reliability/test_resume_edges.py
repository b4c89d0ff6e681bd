"""The edges of --resume (issue 30, items 6-8): a refused resume changes nothing in the run folder; a finished run
that is extended ends exactly as an uninterrupted run of the new length; the process-wide RNG states a checkpoint
holds are seeded from train.seed, the same in two independent processes, and a caller's are left as they were."""

import contextlib
import os
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import wganlab
from wganlab.cli import main
from wganlab.training import loop
from wganlab.training.checkpoint import Checkpointer
from wganlab.training.run_folder import RunFolder

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
SMALL = [
    "eight_gaussians/wgan-gp",
    "model.generator_widths=16,16",
    "model.critic_widths=16,16",
    "train.batch_size=16",
    "train.device=cpu",
    "log.progress=false",
    "log.tensorboard=false",
    "log.eval_samples=64",
]


def load(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


def assert_same_tree(a, b, where: str = "") -> None:
    """Bitwise equality of nested dicts, lists and tensors (dtype included)."""
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        assert isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor), where
        assert a.dtype == b.dtype and torch.equal(a, b), where
    elif isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), (where, a.keys(), b.keys())
        for key in a:
            assert_same_tree(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, list | tuple):
        assert isinstance(b, list | tuple) and len(a) == len(b), where
        for index, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same_tree(x, y, f"{where}.{index}")
    else:
        assert a == b, (where, a, b)


# --- item 8: the process-wide RNGs ----------------------------------------------------------------------------


@pytest.mark.slow  # two interpreter starts: 10-25 s on 2 shared cores
def test_two_independent_processes_store_the_same_global_rng_states(tmp_path):
    """Each run in its own `python -m wganlab train` (not forked from one parent): every RNG state in the
    checkpoints, the process-wide torch, numpy and Python ones included, is the same in both."""
    argv = [*SMALL, "train.steps=4", "log.checkpoint_every=2", "log.keep_checkpoints=2", "log.eval_every=2"]
    runs = [tmp_path / name for name in ("a", "b")]
    processes = [
        subprocess.Popen([sys.executable, "-m", "wganlab", "train", *argv, "--out", str(run)], env=ENV,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        for run in runs
    ]  # fmt: skip
    for process in processes:
        assert process.wait() == 0, process.stderr.read()
    for name in ("step-00000002.pt", "step-00000004.pt", "best.pt"):
        a, b = (load(run / "checkpoints" / name)["rng"] for run in runs)
        assert {"data", "noise", "torch", "numpy", "python"} <= a.keys()
        assert_same_tree(a, b, name)


def test_train_leaves_the_callers_global_rng_states_as_they_were(tmp_path):
    torch.manual_seed(1234)
    np.random.seed(56)
    random.seed(78)
    expected = (torch.get_rng_state(), np.random.get_state(), random.getstate())
    wganlab.train(SMALL[0], out=tmp_path / "run", **{"train.steps": 2, "log.eval_every": 0}, **overrides())
    # Resuming loads a checkpoint's global states: those are put back too.
    wganlab.train(SMALL[0], out=tmp_path / "run", resume=True, **{"train.steps": 3, "log.eval_every": 0},
                  **overrides())  # fmt: skip
    after = (torch.get_rng_state(), np.random.get_state(), random.getstate())
    assert torch.equal(after[0], expected[0])
    assert np.array_equal(after[1][1], expected[1][1]) and after[1][2:] == expected[1][2:]
    assert after[2] == expected[2]
    # So the caller's next draws are the first draws of its own seeds.
    assert torch.rand(1).item() == torch.rand(1, generator=torch.Generator().manual_seed(1234)).item()
    assert np.random.random_sample() == np.random.RandomState(56).random_sample()
    assert random.random() == random.Random(78).random()


def overrides() -> dict:
    """SMALL's overrides as keyword arguments of wganlab.train."""
    return dict(item.split("=", 1) for item in SMALL[1:])


# --- item 6: a refused resume changes nothing -------------------------------------------------------------------


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """A finished 4-step run, checkpoints at 2 and 4, copied by each test that resumes it."""
    run = tmp_path_factory.mktemp("finished") / "run"
    assert main(["train", *FINISHED, "--out", str(run)]) == 0
    return run


FINISHED = [*SMALL, "train.steps=4", "log.checkpoint_every=2", "log.keep_checkpoints=2", "log.eval_every=2",
            "log.log_every=1"]  # fmt: skip


def linear_decay(run: Path) -> None:
    """The run trained again with its learning rates decaying linearly over its 4 steps."""
    shutil.rmtree(run)
    assert main(["train", *FINISHED, "optim.lr_decay=linear", "--out", str(run)]) == 0


def listing(run: Path) -> dict[str, tuple[bytes | None, int]]:
    """Every file's bytes and every entry's mtime (folders included), by path."""
    return {
        str(path.relative_to(run)): (path.read_bytes() if path.is_file() else None, path.lstat().st_mtime_ns)
        for path in sorted(run.rglob("*"))
    }


def damage_line(path: Path, number: int) -> None:
    lines = path.read_text().splitlines()
    lines[number - 1] = "{not json"
    path.write_text("\n".join(lines) + "\n")


@contextlib.contextmanager
def read_only(folder: Path):
    """`folder` made read-only for this process: chmod for a user, the immutable flag for root (whom file modes do
    not stop); skipped where neither works."""
    mode = folder.stat().st_mode
    immutable = os.geteuid() == 0 and subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode == 0
    if not immutable:
        folder.chmod(0o555)
    try:
        if os.access(folder, os.W_OK):
            pytest.skip(f"cannot make {folder} read-only here")
        yield
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
        else:
            folder.chmod(mode)


REFUSALS = {
    "a damaged metrics.jsonl line": (
        lambda run: damage_line(run / "metrics.jsonl", 2),
        None,
        r"train: error: .*/metrics.jsonl line 2 is not valid JSON; the file was edited or damaged: fix or remove",
    ),
    "a damaged timing.jsonl line": (
        lambda run: damage_line(run / "timing.jsonl", 1),
        None,
        r"train: error: .*/timing.jsonl line 1 is not valid JSON; the file was edited or damaged: fix or remove",
    ),
    "a read-only checkpoints folder": (
        None,
        "checkpoints",
        r"train: error: cannot write in .*/run/checkpoints \(not writable\); make it writable, then resume with: "
        r"wganlab train .*/run/config.toml --out .*/run --resume$",
    ),
    "a read-only samples folder": (None, "samples", r"train: error: cannot write in .*/run/samples \(not writable\)"),
    "a read-only run folder": (None, ".", r"train: error: cannot write in .*/run \(not writable\); make it writable"),
    "a linear decay whose span would change": (
        linear_decay,
        None,
        r"train: error: --resume: optim.lr_decay='linear' decays the learning rates over 4 generator steps in this "
        r"run's checkpoint but over 5 in the config",
    ),
}


@pytest.mark.parametrize("cause", REFUSALS)
def test_a_refused_resume_leaves_every_file_and_mtime_as_it_was(cause, finished, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(finished, run)
    damage, locked, message = REFUSALS[cause]
    if damage is not None:
        damage(run)
        capsys.readouterr()
    with read_only(run / locked) if locked else contextlib.nullcontext():
        before = listing(run)
        code = main(["train", str(run / "config.toml"), "--out", str(run), "--resume", "train.steps=5"])
        after = listing(run)
    lines = [line for line in capsys.readouterr().err.splitlines() if not line.startswith("run folder: ")]
    assert code == 2
    assert len(lines) == 1 and re.match(f"wganlab {message}", lines[0]), lines
    assert after == before
    assert (run / "outcome.json").is_file() and "steps = 4\n" in (run / "config.toml").read_text()


# --- item 7: extending a finished run ----------------------------------------------------------------------------

# Fields of a checkpoint that differ by design between a run extended and an uninterrupted one: the wall-clock,
# and the config (with train.steps) a step file was written under.
AS_WRITTEN = ("seconds", "overhead_seconds", "config", "lr_schedule")


def checkpoint_content(path: Path, *also: str) -> dict:
    return {k: v for k, v in load(path).items() if k not in (*AS_WRITTEN, *also)}


def assert_same_end(extended: Path, whole: Path, steps: int) -> None:
    """An extended run ends bit for bit as the uninterrupted one: every record, every picture, the generator file,
    the step files kept (the end-of-run notes of an old end aside), latest.pt and best.pt."""
    assert (extended / "metrics.jsonl").read_bytes() == (whole / "metrics.jsonl").read_bytes()
    [final] = [row for row in RunFolder(whole).records() if row["kind"] == "final"]
    assert final["step"] == steps
    timing = [[row["step"] for row in RunFolder(run).timing()] for run in (extended, whole)]
    assert timing[0] == timing[1]
    for folder in ("samples", "checkpoints"):
        assert sorted(p.name for p in (extended / folder).iterdir()) == sorted(
            p.name for p in (whole / folder).iterdir()
        )
    for picture in (whole / "samples").iterdir():
        assert (extended / "samples" / picture.name).read_bytes() == picture.read_bytes(), picture.name
    generator = "checkpoints/generator.safetensors"
    assert (extended / generator).read_bytes() == (whole / generator).read_bytes()
    for name in ("latest.pt", "best.pt"):
        if (whole / "checkpoints" / name).exists():
            a, b = (checkpoint_content(run / "checkpoints" / name) for run in (extended, whole))
            assert_same_tree(a, b, name)
    for path in (whole / "checkpoints").glob("step-*.pt"):
        a, b = (checkpoint_content(run / "checkpoints" / path.name, "end_of_run") for run in (extended, whole))
        assert_same_tree(a, b, path.name)
    assert RunFolder(extended).outcome()["step"] == RunFolder(whole).outcome()["step"] == steps
    assert not list(extended.rglob("*.tmp"))


# (first length, new length, log_every, eval_every, sample_every, checkpoint_every, keep_checkpoints)
ALIGNMENTS = {
    "nothing divides the old length": (5, 8, 2, 3, 4, 4, 1),
    "everything divides the old length": (6, 9, 3, 2, 3, 3, 2),
    "a mix": (4, 7, 3, 4, 3, 2, 2),
    "the first evaluation at the old end": (3, 8, 2, 5, 10, 5, 1),
}


def alignment_config(tiny_config, objective: str, alignment: str, steps: int, *extra: str):
    _, _, log, evaluate, sample, checkpoint, keep = ALIGNMENTS[alignment]
    return tiny_config(
        objective, f"train.steps={steps}", f"log.log_every={log}", f"log.eval_every={evaluate}",
        f"log.sample_every={sample}", f"log.checkpoint_every={checkpoint}", f"log.keep_checkpoints={keep}",
        "log.eval_samples=64", "log.final_metrics=w1", "log.final_samples=128", "log.grid_size=4",
        "train.seed=2",  # whose evaluation at step 5 beats the one at 3: the old end replaced best.pt
        *extra,
    )  # fmt: skip


def extend_and_compare(tiny_config, tmp_path: Path, objective: str, alignment: str, *lengths: int,
                       extra: tuple[str, ...] = ()) -> Path:  # fmt: skip
    """Train lengths[0] steps, extend it to each further length in turn, and compare with an uninterrupted run of
    the last length (both with the `extra` overrides); returns the extended run."""
    whole, extended = tmp_path / "whole", tmp_path / "extended"
    loop.train(alignment_config(tiny_config, objective, alignment, lengths[-1], *extra), whole, progress=False)
    loop.train(alignment_config(tiny_config, objective, alignment, lengths[0], *extra), extended, progress=False)
    for steps in lengths[1:]:
        config = alignment_config(tiny_config, objective, alignment, steps, *extra)
        loop.train(config, extended, resume=True, progress=False)
    assert_same_end(extended, whole, lengths[-1])
    return extended


# The GAN in the slow tier (with every alignment), the WGAN-GP in the default one.
OBJECTIVES = [pytest.param("gan", marks=pytest.mark.slow), "wgan-gp"]


@pytest.mark.parametrize("objective", OBJECTIVES)
def test_extending_a_finished_run_ends_as_an_uninterrupted_run(tiny_config, tmp_path, objective):
    first, new, *_ = ALIGNMENTS["nothing divides the old length"]
    ended = tmp_path / "ended"
    loop.train(alignment_config(tiny_config, objective, "nothing divides the old length", first), ended,
               progress=False)  # fmt: skip
    # Every kind of end-of-run extra is there to take back: a train record, an evaluation that replaced best.pt,
    # a picture and a step file, all off their cadence, and the final record.
    assert load(ended / "checkpoints/latest.pt")["end_of_run"] == {
        "train": True, "eval": True, "picture": True, "checkpoint": True, "best": "replaced"
    }  # fmt: skip
    assert [row["kind"] for row in RunFolder(ended).records() if row["step"] == first] == ["train", "eval", "final"]
    extend_and_compare(tiny_config, tmp_path, objective, "nothing divides the old length", first, new)


@pytest.mark.slow
@pytest.mark.parametrize("objective", ["gan", "wgan-gp"])
@pytest.mark.parametrize("alignment", ALIGNMENTS)
def test_extending_at_every_cadence_alignment(tiny_config, tmp_path, objective, alignment):
    first, new, *_ = ALIGNMENTS[alignment]
    extend_and_compare(tiny_config, tmp_path, objective, alignment, first, new)


@pytest.mark.parametrize("objective", OBJECTIVES)
def test_an_extension_of_an_extension_ends_as_an_uninterrupted_run(tiny_config, tmp_path, objective):
    extend_and_compare(tiny_config, tmp_path, objective, "nothing divides the old length", 3, 5, 8)


def test_an_extension_stopped_before_its_first_checkpoint_takes_the_old_end_back_again(tiny_config, tmp_path,
                                                                                      monkeypatch):  # fmt: skip
    """Stopped after the old end's extras were taken back but before a newer checkpoint exists, the extension
    resumes from the old end's step file again: taking back twice is the same as once."""
    alignment = "nothing divides the old length"
    whole, extended = tmp_path / "whole", tmp_path / "extended"
    loop.train(alignment_config(tiny_config, "wgan-gp", alignment, 8), whole, progress=False)
    loop.train(alignment_config(tiny_config, "wgan-gp", alignment, 5), extended, progress=False)

    def stop(self, s, end=None):
        raise KeyboardInterrupt

    monkeypatch.setattr(Checkpointer, "save", stop)
    with pytest.raises(KeyboardInterrupt):
        loop.train(alignment_config(tiny_config, "wgan-gp", alignment, 8), extended, resume=True, progress=False)
    monkeypatch.undo()
    assert not (extended / "samples/step-00000005.png").exists()
    # The old end's records at 5 were taken back; those up to 8 written again (the checkpoint at 8 stopped).
    assert [(row["step"], row["kind"]) for row in RunFolder(extended).records()] == [
        (2, "train"), (3, "eval"), (4, "train"), (6, "train"), (6, "eval"), (8, "train"), (8, "eval")
    ]  # fmt: skip
    loop.train(alignment_config(tiny_config, "wgan-gp", alignment, 8), extended, resume=True, progress=False)
    assert_same_end(extended, whole, 8)


def test_extending_a_finished_run_with_an_ema_ends_as_an_uninterrupted_run(tiny_config, tmp_path):
    """With train.ema_decay the EMA weights (in the step files, latest.pt, best.pt and generator.safetensors), the
    evaluations of the EMA (w1_ema, ...) and its pictures (ema-step-XXXXXXXX.png) end as an uninterrupted run's."""
    extended = extend_and_compare(tiny_config, tmp_path, "wgan-gp", "nothing divides the old length", 5, 8,
                                  extra=("train.ema_decay=0.9",))  # fmt: skip
    assert "generator_ema" in load(extended / "checkpoints/latest.pt")
    assert "generator_ema" in load(extended / "checkpoints/best.pt")
    assert all("w1_ema" in row for row in RunFolder(extended).records("eval"))
    assert "w1_ema" in RunFolder(extended).records("final")[0]
    assert sorted(p.name for p in (extended / "samples").glob("ema-step-*.png")) == [
        "ema-step-00000004.png", "ema-step-00000008.png"
    ]  # fmt: skip


def test_a_start_stopped_before_it_went_on_keeps_its_folder_for_the_printed_resume(tmp_path):
    # A refusal takes back the folder it made; Ctrl-C or SIGTERM does not: `wganlab train` then prints a resume
    # command with --resume, which must find the folder (it starts the run from step 0 with a notice).
    from wganlab.errors import ConfigError
    from wganlab.training.run_folder import RunFolder

    folder = RunFolder(tmp_path / "new" / "run")
    with pytest.raises(KeyboardInterrupt), folder.lock():
        raise KeyboardInterrupt
    assert (tmp_path / "new" / "run").is_dir()
    with pytest.raises(ConfigError), RunFolder(tmp_path / "other" / "run").lock():
        raise ConfigError("refused")
    assert not (tmp_path / "other").exists()
