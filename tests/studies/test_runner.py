"""The study runner: runs every unfinished run (in parallel), never repeats a finished one, resumes a killed
one bitwise, refuses a folder made with other settings, and reports failures and divergences."""

import contextlib
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from safetensors.torch import load_file

from wganlab.studies.common import runner
from wganlab.studies.common.runner import Plan, Run, StudyError
from wganlab.studies.common.toys import training_runs
from wganlab.training.run_folder import RunFolder

TINY = ("model.generator_widths=32,32", "model.critic_widths=32,32", "train.batch_size=32")
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def tiny_plan(steps: int = 4, seeds: int = 2, objectives=("gan", "wgan-gp")) -> Plan:
    runs = training_runs(("eight_gaussians",), objectives, seeds, steps=steps, eval_every=2, eval_samples=64,
                         extra=TINY)  # fmt: skip
    return Plan("tiny", "quick", seeds, runs, {"steps": steps})


def outcome_times(plan: Plan, study_dir: Path) -> dict[str, float]:
    return {run.key: (plan.folder(study_dir, run) / "outcome.json").stat().st_mtime_ns for run in plan.runs}


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> tuple[Plan, Path]:
    """Two tiny training runs executed side by side (the subprocesses dominate these tests' time)."""
    study_dir = tmp_path_factory.mktemp("study")
    plan = tiny_plan(seeds=1)
    assert runner.execute(plan, study_dir, jobs=2, summary=lambda run, folder: "ok", progress=False) == []
    return plan, study_dir


def test_runs_everything_in_parallel_then_reuses_it(finished):
    plan, study_dir = finished
    assert all(runner.state(plan, run, study_dir) == "done" for run in plan.runs)
    for run in plan.runs:
        folder = RunFolder(plan.folder(study_dir, run))
        assert folder.outcome()["status"] == "finished" and folder.outcome()["step"] == 4
        assert [r["step"] for r in folder.records("eval")] == [2, 4]
        assert "log.progress=false" in (folder.path / "command.txt").read_text()
    before = outcome_times(plan, study_dir)
    assert runner.execute(plan, study_dir, jobs=2, progress=False) == []
    assert outcome_times(plan, study_dir) == before  # nothing ran again
    assert printed_plan(plan, study_dir) == []  # nothing left to do


def test_status_shows_each_runs_state_step_quality_and_ending(finished, tmp_path):
    plan, study_dir = finished
    # A copy of the study in which one run lost its outcome (as a killed run has none) and one more run is planned.
    copy = tmp_path / "study"
    shutil.copytree(study_dir, copy)
    started, finished_run = plan.runs
    (plan.folder(copy, started) / "outcome.json").unlink()
    later = training_runs(("eight_gaussians",), ("wgan",), 1, steps=4, eval_every=2, eval_samples=64, extra=TINY)
    bigger = Plan(plan.study, plan.size, plan.seeds, [*plan.runs, *later], plan.settings)
    rows = {row["run"]: row for row in runner.status_rows(bigger, copy)}
    assert [rows[run.key]["state"] for run in bigger.runs] == ["partial", "done", "todo"]
    for run in plan.runs:  # the step reached and the headline (exact W1 on a toy): last and lowest of its evaluations
        w1 = [record["w1"] for record in RunFolder(plan.folder(copy, run)).records("eval")]
        row = rows[run.key]
        assert (row["step"], row["planned"], row["measure"], row["last"], row["best"]) == (4, 4, "w1", w1[-1], min(w1))
        assert row["seconds"] > 0
    assert rows[finished_run.key]["ended"] == "all steps" and "ended" not in rows[started.key]
    assert "rule" not in rows[started.key]  # no stop rule in these runs (the long size's: training/stopping.standing)
    assert rows[later[0].key] == {"run": later[0].key, "state": "todo", "planned": 4}
    # An unfinished run's pace is its last timing record's; the time left is that pace times the steps still planned
    # (none here: it reached all 4 before losing its outcome). A finished run has neither.
    last = json.loads((plan.folder(copy, started) / "timing.jsonl").read_text().splitlines()[-1])
    assert (rows[started.key]["sec_per_step"], rows[started.key]["seconds_left"]) == (last["sec_per_step"], 0)
    assert "sec_per_step" not in rows[finished_run.key] and "writer" not in rows[started.key]
    # As if killed at step 2 (its records cut there) with a recent pace of 900 s a step: 2 steps left, 0.5 h.
    metrics, timing = (plan.folder(copy, started) / name for name in ("metrics.jsonl", "timing.jsonl"))
    kept = [line for line in metrics.read_text().splitlines() if json.loads(line)["step"] <= 2]
    metrics.write_text("\n".join(kept) + "\n")
    timing.write_text(json.dumps({**last, "step": 2, "sec_per_step": 900.0}) + "\n")
    killed = runner.status_rows(bigger, copy)[0]
    assert (killed["step"], killed["sec_per_step"], killed["seconds_left"]) == (2, 900.0, 1800.0)
    # A long run's outcome names the rule that stopped it (training/stopping.py writes these keys).
    path = plan.folder(copy, finished_run) / "outcome.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "stopped_by": "plateau", "stop_step": 4}))
    assert runner.status_rows(bigger, copy)[1]["ended"] == "plateau"
    printed = []
    runner.print_status(bigger, copy, out=type("Sink", (), {"write": lambda self, s: printed.append(s)})())
    lines = "".join(printed).splitlines()
    assert lines[0].startswith(
        "tiny (--quick --seeds=1): 3 runs: 1 finished, 0 training, 1 started, 1 not started; folder "
    )
    header = "run state step / planned quality: last (best) hours s/step hours left ended (or the stop rule so far)"
    assert lines[1].split() == header.split()
    hours = f"{killed['seconds'] / 3600:.2f}"
    assert lines[2].split() == [
        started.key,
        "started",
        "2",
        "/",
        "4",
        "w1",
        *lines[2].split()[6:8],
        hours,
        "900",
        "0.5",
    ]
    assert lines[4].split() == [later[0].key, "not", "started", "–", "/", "4"]
    # While a process holds the run's folder lock (as a training run does), the run is shown as training, with the
    # pid from the kernel's lock table; the probe never takes the lock, so the holder keeps it undisturbed.
    with RunFolder(plan.folder(copy, started)).lock() as claim:
        claim()
        assert runner.status_rows(bigger, copy)[0]["writer"] == os.getpid()
        printed.clear()
        runner.print_status(bigger, copy, out=type("Sink", (), {"write": lambda self, s: printed.append(s)})())
    lines = "".join(printed).splitlines()
    assert ": 3 runs: 1 finished, 1 training, 0 started, 1 not started;" in lines[0]
    assert lines[2].split()[:2] == [started.key, "training"]
    assert "writer" not in runner.status_rows(bigger, copy)[0]  # released


def test_writer_pid_reads_the_kernels_lock_table(tmp_path):
    folder = RunFolder(tmp_path / "run")
    assert folder.writer_pid() is None  # no .lock at all
    folder.path.mkdir()
    (folder.path / ".lock").write_text("wganlab pid 1 on elsewhere\n")  # what a stopped run leaves: not a holder
    stat = (folder.path / ".lock").stat()
    ours = f"{os.major(stat.st_dev):02x}:{os.minor(stat.st_dev):02x}:{stat.st_ino}"
    other = f"{os.major(stat.st_dev):02x}:{os.minor(stat.st_dev):02x}:{stat.st_ino + 1}"
    table = tmp_path / "locks"
    table.write_text(
        f"1: POSIX  ADVISORY  WRITE 77 {ours} 0 EOF\n"  # a POSIX (fcntl) lock is not how a run holds its folder
        f"2: FLOCK  ADVISORY  WRITE 88 {other} 0 EOF\n"  # another file's
        f"3: -> FLOCK  ADVISORY  WRITE 99 {ours} 0 EOF\n"  # a waiter, not the holder
        f"4: FLOCK  ADVISORY  WRITE 4242 {ours} 0 EOF\n"
    )
    assert folder.writer_pid(locks=table) == 4242
    table.write_text(f"2: FLOCK  ADVISORY  WRITE 88 {other} 0 EOF\n")
    assert folder.writer_pid(locks=table) is None
    assert folder.writer_pid(locks=tmp_path / "none") is None  # no lock table (not Linux): not seen


def printed_plan(plan: Plan, study_dir: Path) -> list[str]:
    printed = []
    runner.print_plan(plan, study_dir, out=type("Sink", (), {"write": lambda self, s: printed.append(s)})())
    return [line for line in "".join(printed).splitlines() if line]


def test_a_folder_made_with_other_settings_is_refused(finished):
    plan, study_dir = finished
    longer = tiny_plan(steps=6, seeds=1)
    with pytest.raises(StudyError, match=r"holds a run with other settings \(train\.steps: 4 -> 6"):
        runner.execute(longer, study_dir, jobs=1, progress=False)


def test_checkpoint_cadence_does_not_make_a_folder_another_run(finished):
    plan, study_dir = finished  # made with a checkpoint every step, 5 kept (4 steps, 4 snapshots)
    saved = ("log.checkpoint_every=3", "log.keep_checkpoints=1")
    runs = training_runs(("eight_gaussians",), ("gan", "wgan-gp"), 1, steps=4, eval_every=2, eval_samples=64,
                         extra=(*TINY, *saved))  # fmt: skip
    assert all(runner.state(Plan("tiny", "quick", 1, runs, {"steps": 4}), run, study_dir) == "done" for run in runs)
    evaluated = training_runs(("eight_gaussians",), ("gan", "wgan-gp"), 1, steps=4, eval_every=1, eval_samples=64,
                              extra=(*TINY, *saved))  # fmt: skip
    with pytest.raises(StudyError, match=r"other settings \(log\.log_every: 2 -> 1; log\.eval_every: 2 -> 1"):
        runner.state(Plan("tiny", "quick", 1, evaluated, {"steps": 4}), evaluated[0], study_dir)


@pytest.mark.slow  # long: the slow tier (CI runs it) keeps it
def test_plan_prints_runnable_commands(tmp_path):
    plan = tiny_plan(seeds=1, objectives=("gan",))
    commands = printed_plan(plan, tmp_path)
    assert len(commands) == 1 and commands[0].startswith("wganlab train eight_gaussians/gan ")
    subprocess.run([sys.executable, "-m", *shlex.split(commands[0]), "log.progress=false"], check=True, env=ENV,
                   capture_output=True)  # fmt: skip
    assert runner.state(plan, plan.runs[0], tmp_path) == "done"
    assert printed_plan(plan, tmp_path) == []


def test_a_failure_is_reported_and_a_divergence_is_a_result(tmp_path):
    broken = Run(key="broken", preset="eight_gaussians/gan", overrides=("data.source=idx", "data.path=/nowhere"))
    # A huge penalty weight makes WGAN-GP's losses overflow within a few steps.
    diverges = Run(key="diverges", preset="eight_gaussians/wgan-gp",
                   overrides=(*TINY, "objective.penalty_weight=1e36", "train.steps=20", "log.log_every=2"))  # fmt: skip
    plan = Plan("tiny", "quick", 1, [broken, diverges])
    assert runner.execute(plan, tmp_path, jobs=2, progress=False) == ["broken"]
    assert "/nowhere" in (tmp_path / "runs" / "broken" / "console.txt").read_text()
    outcome = RunFolder(tmp_path / "runs" / "diverges").outcome()
    assert outcome["status"] == "diverged" and "non-finite" in outcome["message"]
    assert runner.state(plan, diverges, tmp_path) == "done" and runner.state(plan, broken, tmp_path) == "todo"


KILLED_STUDY = """
from pathlib import Path
from wganlab.studies.common import runner
from wganlab.studies.common.toys import training_runs
runs = training_runs(("eight_gaussians",), ("wgan-gp",), 1, steps=60, eval_every=2, eval_samples=64, extra={tiny!r})
runner.execute(runner.Plan("tiny", "quick", 1, runs), Path({out!r}), jobs=1, progress=False)
"""


@pytest.mark.slow
def test_a_killed_study_continues_and_matches_an_uninterrupted_one(tmp_path):
    plan = tiny_plan(steps=60, seeds=1, objectives=("wgan-gp",))
    runner.execute(plan, tmp_path / "whole", jobs=1, progress=False)
    # Kill the whole study (runner and its training subprocess) once a checkpoint of the run is on disk.
    code = KILLED_STUDY.format(tiny=TINY, out=str(tmp_path / "killed"))
    study = subprocess.Popen([sys.executable, "-c", code], env=ENV, start_new_session=True)
    latest = plan.folder(tmp_path / "killed", plan.runs[0]) / "checkpoints" / "latest.pt"
    deadline = time.time() + 120
    while not latest.exists() and time.time() < deadline:
        time.sleep(0.05)
    os.killpg(study.pid, signal.SIGKILL)
    study.wait()
    assert runner.state(plan, plan.runs[0], tmp_path / "killed") == "partial"
    assert runner.execute(plan, tmp_path / "killed", jobs=1, progress=False) == []
    whole, resumed = (load_file(plan.folder(tmp_path / name, plan.runs[0]) / "checkpoints" / "generator.safetensors")
                      for name in ("whole", "killed"))  # fmt: skip
    assert whole.keys() == resumed.keys() and all((whole[k] == resumed[k]).all() for k in whole)
    metrics = [plan.folder(tmp_path / name, plan.runs[0]) / "metrics.jsonl" for name in ("whole", "killed")]
    assert [json.loads(line)["step"] for line in metrics[1].read_text().splitlines()] == [
        json.loads(line)["step"] for line in metrics[0].read_text().splitlines()
    ]


STOPPED_STUDY = """
import signal
from pathlib import Path
from wganlab import cli
from wganlab.studies.common import runner
from wganlab.studies.common.toys import training_runs
signal.signal(signal.SIGTERM, cli._raise_terminated)  # what `wganlab study` installs
runs = training_runs(("eight_gaussians",), ("gan", "wgan"), 1, steps=10**6, eval_every=50, eval_samples=64,
                     extra=({tiny!r}) + ("log.checkpoint_every=10",))
try:
    runner.execute(runner.Plan("tiny", "quick", 1, runs), Path({out!r}), jobs=2, progress=False)
except KeyboardInterrupt:
    raise SystemExit(143)
"""


@pytest.mark.slow
def test_a_study_started_with_sigint_ignored_stops_its_runs_on_sigterm(tmp_path):
    # A study started in the background from a script (`nohup wganlab study ... &`) inherits SIGINT ignored, and
    # so do its runs: SIGTERM to the study must still stop them (each keeping its last checkpoint), not leave the
    # study waiting on runs that never stop.
    code = STOPPED_STUDY.format(tiny=TINY, out=str(tmp_path))
    study = subprocess.Popen([sys.executable, "-c", code], env=ENV, start_new_session=True,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))  # fmt: skip
    runs = training_runs(("eight_gaussians",), ("gan", "wgan"), 1, steps=10**6, eval_every=50, eval_samples=64,
                         extra=(*TINY, "log.checkpoint_every=10"))  # fmt: skip
    plan = Plan("tiny", "quick", 1, runs)
    checkpoints = [plan.folder(tmp_path, run) / "checkpoints" / "latest.pt" for run in plan.runs]
    try:
        deadline = time.time() + 120
        while not all(path.exists() for path in checkpoints) and time.time() < deadline:
            time.sleep(0.05)
        study.send_signal(signal.SIGTERM)
        assert study.wait(timeout=60) == 143
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(study.pid, signal.SIGKILL)
    for run in plan.runs:
        folder = plan.folder(tmp_path, run)
        assert "stopped by SIGTERM" in (folder / "console.txt").read_text()
        assert runner.state(plan, run, tmp_path) == "partial"  # resumable from its checkpoint


def test_a_run_sized_in_epochs_with_spread_evaluations_is_reused_not_refused(tmp_path):
    # train.epochs and log.evaluations are resolved once the data is loaded, and config.toml holds the resolved
    # train.steps and log.eval_every: the runner must still see the planned run in it (the paper-size image
    # studies plan their runs this way).
    def plan(epochs: float) -> Plan:
        overrides = ("data.pad=2", "data.image_size=0", "model.channels=8", "model.z_dim=16", "train.batch_size=16",
                     f"train.epochs={epochs}", "log.evaluations=3", "log.eval_metrics=fd_fmnist",
                     "log.eval_samples=48", "log.tensorboard=false")  # fmt: skip
        return Plan("epochs", "quick", 1, [Run(key="img/seed-0", preset="fashion_mnist/gan", overrides=overrides)], {})

    study_dir = tmp_path / "study"
    assert runner.execute(plan(0.004), study_dir, jobs=1, progress=False) == []
    folder = RunFolder(plan(0.004).folder(study_dir, plan(0.004).runs[0]))
    # 0.004 of the 60,000 training images, 16 per critic step, 1 critic step per generator step (GAN): 15 steps,
    # evaluated every 15 // 3 = 5.
    assert folder.outcome()["step"] == 15 and [r["step"] for r in folder.records("eval")] == [5, 10, 15]
    stored = (folder.path / "config.toml").read_text()
    assert "steps = 15\n" in stored and "eval_every = 5\n" in stored and "evaluations = 0\n" in stored
    assert runner.state(plan(0.004), plan(0.004).runs[0], study_dir) == "done"
    with pytest.raises(StudyError, match=r"train\.epochs: 0\.004 -> 0\.005"):
        runner.state(plan(0.005), plan(0.005).runs[0], study_dir)


def test_last_step_reads_the_last_whole_record_from_the_end(tmp_path):
    assert runner.last_step(tmp_path) == 0  # no metrics.jsonl yet
    records = "".join(json.dumps({"step": step, "kind": "train"}) + "\n" for step in range(1, 400))
    (tmp_path / "metrics.jsonl").write_text(records + '{"step": 400, "ki')  # a torn last line, as a kill leaves
    assert runner.last_step(tmp_path) == 399


def test_progress_counts_runs_by_cost_and_running_ones_by_their_steps(tmp_path):
    runs = [
        runner.Run("a", "eight_gaussians/gan", ("train.steps=10",), cost=1.0),
        runner.Run("b", "eight_gaussians/gan", ("train.steps=40",), cost=3.0),
    ]
    plan = runner.Plan("p", "default", 1, runs)
    meter = runner.Progress(plan, tmp_path, {"b"}, enabled=False)  # a finished already: 1 of 4 cost units
    assert meter.done == 250
    folder = plan.folder(tmp_path, runs[1])
    folder.mkdir(parents=True)
    (folder / "metrics.jsonl").write_text(json.dumps({"step": 20}) + "\n")  # b half done: 1 + 1.5 of 4
    meter.poll([runs[1]])
    assert meter.done == 625
    meter.finish(runs[1])
    assert meter.done == 1000


def test_progress_starts_a_resumed_run_where_it_stopped(tmp_path):
    # The bar's pace is this session's: a run killed at half its steps starts the bar at its half, so the first
    # poll does not count earlier sessions' steps as done in a second (which made "about 00:02 left").
    runs = [
        runner.Run("a", "eight_gaussians/gan", ("train.steps=10",), cost=1.0),
        runner.Run("b", "eight_gaussians/gan", ("train.steps=40",), cost=3.0),
    ]
    plan = runner.Plan("p", "default", 1, runs)
    folder = plan.folder(tmp_path, runs[1])
    folder.mkdir(parents=True)
    (folder / "metrics.jsonl").write_text(json.dumps({"step": 20}) + "\n")
    meter = runner.Progress(plan, tmp_path, {"a", "b"}, enabled=False)  # 0 of a, half of b: 1.5 of 4 cost units
    assert meter.done == 375 and meter.bar.n == 375
    meter.poll(runs)
    assert meter.done == 375
