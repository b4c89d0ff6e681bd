"""A study is a plan of runs: plan them, run them (in a local pool or by any scheduler), collect the report.

A `Run` is one unit of work with its own folder: a training run (`wganlab train PRESET overrides --out DIR`),
or a study's own computation (`wganlab study NAME --task KEY`) for the studies that train only a critic
against a fixed "generator". `execute` runs the unfinished ones `jobs` at a time, each as a subprocess with
its share of the CPU threads, resumes the ones a killed study left half done, and never repeats a finished
one. A run is finished when its folder says so: outcome.json (training: finished or diverged) or
result.json (a task), and it was made with the planned settings (a task's task.json records them).
"""

import contextlib
import dataclasses
import json
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from wganlab.config import RunConfig, differences, load_config
from wganlab.errors import Terminated, TrainingDiverged, UserError
from wganlab.training import threads
from wganlab.training.run_folder import RunFolder

EXIT_DIVERGED = TrainingDiverged.exit_code  # a run that diverged has finished: its folder holds the outcome
SIZES = ("quick", "default", "paper", "long")
# Settings that change what a run shows or how often it saves, not what it computes (resume is bitwise whatever the
# checkpoint cadence): a folder that differs from the plan only in these is the plan's run.
NOT_IN_RESULTS = ("log.progress", "log.checkpoint_every", "log.keep_checkpoints")


class StudyError(UserError):
    """A study cannot be planned, run or collected as asked."""


@dataclass(frozen=True)
class Run:
    """One unit of a study, done in the folder `key` under the study's runs folder."""

    key: str
    """e.g. "eight_gaussians/wgan-gp/seed-3"; also the run's folder under runs/."""
    preset: str = ""
    """Training runs: the config (a preset name or a file)."""
    overrides: tuple[str, ...] = ()
    """Training runs: `section.key=value` overrides on top of the preset."""
    task: bool = False
    """A study's own computation (`wganlab study NAME --task KEY`) instead of a training run."""
    cost: float = 1.0
    """Relative expected time: the most expensive runs start first, so the pool finishes together."""
    labels: tuple[tuple[str, Any], ...] = ()
    """What the run stands for (toy, objective, seed, ...), as (name, value) pairs for tables."""

    def label(self, name: str) -> Any:
        return dict(self.labels)[name]

    def config(self) -> RunConfig:
        return load_config(self.preset, list(self.overrides))


@dataclass
class Plan:
    """The runs of one study at one size, and the numbers its report needs to describe them."""

    study: str
    size: str
    seeds: int
    runs: list[Run]
    settings: dict[str, Any] = field(default_factory=dict)
    runs_dir: str = "runs"
    """Where the run folders live, relative to the study folder (studies may share another's runs)."""
    selectors: tuple[str, ...] = ("seeds",)
    """Settings that only choose which runs exist (the seed count, a list of toys): changing them adds or drops
    runs but changes no run, so a finished task is reused across them."""
    recipe: str = "published"
    """`--recipe`: published (each objective's published recipe) or seed (the settings of the seed whose claim
    the study tests); part of the study folder's name and of its runs' pool, so the two never mix."""
    fp32: bool = False
    """`--fp32`: the plan's fast-path runs (bf16 autocast, channels-last) train in fp32 instead; part of the study
    folder's name and of its pool's (a "-fp32" suffix), so that the two never mix."""
    records: Path | None = None
    """`--records DIR`: read the runs from DIR/<pool>/<key> (the committed records, e.g. docs/studies/records)
    instead of the study folder's runs folder; only for --collect."""

    def folder(self, study_dir: Path, run: Run) -> Path:
        if self.records is not None:
            return (self.records / Path(self.runs_dir).name / run.key).resolve()
        return (study_dir / self.runs_dir / run.key).resolve()

    def find(self, **labels: Any) -> list[Run]:
        return [run for run in self.runs if all(run.label(k) == v for k, v in labels.items())]


def folder_name(study: str, size: str, recipe: str = "published", fp32: bool = False) -> str:
    """studies/<name> for the default size, studies/<name>-quick, -paper and -long for the others, -seed after
    them for `--recipe seed` and -fp32 last for `--fp32`, so that sizes, recipes and precisions never mix."""
    name = study if size == "default" else f"{study}-{size}"
    name = name if recipe == "published" else f"{name}-{recipe}"
    return f"{name}-fp32" if fp32 else name


def size_flags(size: str, seeds: int | None, recipe: str = "published", fp32: bool = False) -> list[str]:
    """The `wganlab study` flags that give this size, seed count, recipe and precision."""
    flags = {"quick": ["--quick"], "default": [], "paper": ["--scale", "paper"], "long": ["--scale", "long"]}[size]
    flags += [] if recipe == "published" else ["--recipe", recipe]
    flags += ["--fp32"] if fp32 else []
    return flags + ([f"--seeds={seeds}"] if seeds is not None else [])


def command(plan: Plan, run: Run, study_dir: Path, *, seeds_flag: int | None = None) -> list[str]:
    """The command that makes `run` (also what --plan prints)."""
    folder = plan.folder(study_dir, run)
    if run.task:
        return [
            "wganlab",
            "study",
            plan.study,
            "--task",
            run.key,
            *size_flags(plan.size, seeds_flag, plan.recipe, plan.fp32),
        ]
    return ["wganlab", "train", run.preset, *run.overrides, "--out", str(folder)]


def run_argv(plan: Plan, run: Run, study_dir: Path, current: str) -> list[str]:
    """The command that makes or continues `run` now that its folder is in state `current` ("todo" or "partial"):
    a training run without progress bars (its output goes to a file), resumed when it has a checkpoint."""
    argv = command(plan, run, study_dir, seeds_flag=plan.seeds)
    if run.task:
        return [*argv, "--out", str(study_dir)]
    return [*argv, "log.progress=false", *(["--resume"] if current == "partial" else [])]


def task_settings(plan: Plan) -> dict[str, Any]:
    """What a task's result depends on: the plan's settings as JSON values, without its selectors (one run is
    the same run whatever the number of seeds, or the other toys, planned beside it)."""
    return json.loads(json.dumps({k: v for k, v in plan.settings.items() if k not in plan.selectors}))


def state(plan: Plan, run: Run, study_dir: Path) -> str:
    """ "done", "partial" (a training run with a checkpoint to resume from) or "todo".

    A folder holding a training run made with other settings is an error: reusing it would mix plans.
    """
    folder = plan.folder(study_dir, run)
    if run.task:
        if not (folder / "result.json").exists():
            return "todo"
        record, planned = folder / "task.json", task_settings(plan)
        if not record.exists():
            raise StudyError(f"{folder} holds a result.json but no task.json (the settings it was made with); "
                             "remove that folder to recompute it")  # fmt: skip
        stored = json.loads(record.read_text())["settings"]
        if stored != planned:
            changed = sorted(key for key in {*stored, *planned} if stored.get(key) != planned.get(key))
            raise StudyError(
                f"{folder} holds a result made with other settings ({', '.join(changed[:3])}); "
                "use another --out for this study or remove that folder"
            )
        return "done"
    runs = RunFolder(folder)
    if not runs.config_path.exists():
        return "todo"
    stored = load_config(runs.config_path)
    changed = differences(stored, as_resolved(run.config(), stored), ignore=NOT_IN_RESULTS)
    if changed:
        raise StudyError(
            f"{folder} holds a run with other settings ({'; '.join(changed[:3])}); "
            "use another --out for this study or remove that folder"
        )
    outcome = runs.outcome()
    if outcome is not None and outcome["status"] in ("finished", "diverged"):
        return "done"
    return "partial" if runs.holds_run() else "todo"


def as_resolved(planned: RunConfig, stored: RunConfig) -> RunConfig:
    """`planned` with what a run derives from its data taken from the config.toml it wrote: train.steps from
    train.epochs and log.eval_every from log.evaluations (that file holds them resolved)."""
    if planned.train.epochs:  # a changed train.epochs still shows as such
        planned = dataclasses.replace(planned, train=dataclasses.replace(planned.train, steps=stored.train.steps))
    if planned.log.evaluations:
        log = dataclasses.replace(planned.log, evaluations=0, eval_every=stored.log.eval_every)
        planned = dataclasses.replace(planned, log=log)
    return planned


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def execute(
    plan: Plan,
    study_dir: Path,
    *,
    jobs: int,
    summary: Callable[[Run, Path], str] | None = None,
    progress: bool = True,
    lend_free_cores: bool = False,
) -> list[str]:
    """Run every unfinished run of `plan`, `jobs` at a time; returns the keys of runs that failed.

    Each subprocess gets OMP_NUM_THREADS = cores // jobs (two jobs that each use every core slow each other
    down by up to 100x). Its console output goes to `<run folder>/console.txt`. A run that diverges is a
    result (its outcome.json says so), not a failure. `lend_free_cores`: once no run is left to start, the
    cores of finished runs go to the runs still going (training/threads.py; only for runs whose results do not
    depend on their thread count).
    """
    states = {run.key: state(plan, run, study_dir) for run in plan.runs}
    todo = sorted((run for run in plan.runs if states[run.key] != "done"), key=lambda run: -run.cost)
    threads_each = max(1, cpu_count() // jobs)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads_each), "MKL_NUM_THREADS": str(threads_each)}
    done_before = len(plan.runs) - len(todo)
    meter = Progress(plan, study_dir, {run.key for run in todo}, enabled=progress)
    if done_before:
        meter.write(f"{plan.study}: {done_before} of {len(plan.runs)} runs already finished; reusing them")
    running: dict[subprocess.Popen, tuple[Run, float]] = {}
    failed: list[str] = []
    lending = tempfile.TemporaryDirectory(prefix="wganlab-threads-") if lend_free_cores else None
    shares: dict[subprocess.Popen, Path] = {}
    lent: dict[subprocess.Popen, int] = {}  # the running processes' thread counts, when lending
    idle = IdleMeter()
    try:
        while todo or running:
            while todo and len(running) < jobs:
                run = todo.pop(0)
                folder = plan.folder(study_dir, run)
                folder.mkdir(parents=True, exist_ok=True)
                argv = [sys.executable, "-m", *run_argv(plan, run, study_dir, states[run.key])]
                log = open(folder / "console.txt", "a")
                child_env = env
                if lending is not None:
                    share = Path(lending.name) / f"{len(shares)}.threads"
                    child_env = {**env, threads.ENVIRONMENT: str(share)}
                process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=child_env)
                log.close()
                running[process] = (run, time.perf_counter())
                if lending is not None:
                    shares[process], lent[process] = share, threads_each
            if lending is not None and not todo and lent:
                idle.update()
                lend_cores(shares, lent, cores_to_share(sum(lent.values()), idle.idle_cores(), cpu_count()))
            time.sleep(0.2)
            meter.poll([run for run, _ in running.values()])
            for process in [p for p in running if p.poll() is not None]:
                run, started = running.pop(process)
                lent.pop(process, None)
                folder = plan.folder(study_dir, run)
                seconds = time.perf_counter() - started
                if process.returncode in (0, EXIT_DIVERGED):
                    line = summary(run, folder) if summary else ""
                    note = " (diverged)" if process.returncode == EXIT_DIVERGED else ""
                    meter.write(f"{run.key}: {seconds:.0f} s{note}{'; ' + line if line else ''}")
                else:
                    failed.append(run.key)
                    tail = (folder / "console.txt").read_text(errors="replace").strip().splitlines()[-3:]
                    meter.write(f"{run.key}: FAILED (exit {process.returncode}): {' | '.join(tail)}")
                meter.finish(run)
    except KeyboardInterrupt as stop:
        # The runs stop the way the study was stopped: SIGTERM (a scheduler's or `kill`'s) as SIGTERM, Ctrl-C as
        # SIGINT. Each stops, keeping its last checkpoint, and the study waits for them, so a rerun resumes every
        # one. (A study started in the background from a script has SIGINT ignored, and so do its runs: they would
        # never stop on a forwarded SIGINT.)
        forwarded = signal.SIGTERM if isinstance(stop, Terminated) else signal.SIGINT
        for process in running:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(forwarded)
        for process in running:
            process.wait()
        raise
    finally:
        meter.close()
        if lending is not None:
            lending.cleanup()
    return failed


class IdleMeter:
    """How many of the machine's cores sat idle over about the last second, from /proc/stat's first line (every
    process's time, ours and others'); None where there is no /proc/stat or too short a window."""

    WINDOW = 1.0  # seconds

    def __init__(self, path: Path = Path("/proc/stat")):
        self.path = path
        self.samples: list[tuple[float, int, int]] = []  # (time, idle jiffies, all jiffies)

    def update(self, now: float | None = None) -> None:
        try:
            fields = self.path.read_text().split("\n", 1)[0].split()
        except OSError:
            return
        if not fields or fields[0] != "cpu":
            return
        jiffies = [int(value) for value in fields[1:]]
        idle = jiffies[3] + (jiffies[4] if len(jiffies) > 4 else 0)  # idle + iowait
        now = time.monotonic() if now is None else now
        self.samples.append((now, idle, sum(jiffies)))
        while len(self.samples) > 2 and now - self.samples[1][0] >= self.WINDOW:
            self.samples.pop(0)

    def idle_cores(self) -> float | None:
        if len(self.samples) < 2 or self.samples[-1][0] - self.samples[0][0] < self.WINDOW:
            return None
        (_, idle_then, all_then), (_, idle_now, all_now) = self.samples[0], self.samples[-1]
        if all_now <= all_then:
            return None
        return (idle_now - idle_then) / (all_now - all_then) * (os.cpu_count() or 1)


def cores_to_share(threads_now: int, idle: float | None, cores: int) -> int:
    """The threads the running processes may use between them: what they have, plus each core that sat idle
    (at least 3/4 of it), up to the cores this process may use. Nothing is lent without a measurement, so runs on
    a machine busy with other work are not crowded onto its cores."""
    if idle is None:
        return threads_now
    return max(threads_now, min(cores, threads_now + int(idle + 0.25)))


def lend_cores(shares: dict[subprocess.Popen, Path], lent: dict[subprocess.Popen, int], cores: int) -> None:
    """Share `cores` among the processes in `lent` (still running; the earliest started get the remainder),
    writing a process's file only when its share changes."""
    for index, process in enumerate(list(lent)):
        share = max(1, cores // len(lent) + (index < cores % len(lent)))
        if lent[process] != share:
            threads.lend(shares[process], share)
            lent[process] = share


class Progress:
    """One progress line for a whole plan: the runs' expected costs (`Run.cost`) add up to the bar's length, and
    a running training run counts by the share of its steps done (the last step in its metrics.jsonl), so the
    bar moves within long runs and its time left covers every run, whatever their lengths."""

    def __init__(self, plan: Plan, study_dir: Path, todo: set[str], *, enabled: bool):
        self.plan, self.study_dir = plan, study_dir
        self.weights = {run.key: max(run.cost, 1e-9) for run in plan.runs}
        self.share = {run.key: 0.0 if run.key in todo else 1.0 for run in plan.runs}
        self.steps: dict[str, int] = {}
        for run in plan.runs:  # a run resumed part-way starts the bar where it stopped, so that the time left
            if run.key in todo and not run.task:  # is worked out from this session's pace, not its first poll
                self.share[run.key] = self.run_share(run)
        total = sum(self.weights.values())
        self.scale = 1000 / total  # the bar counts thousandths of the plan
        self.bar = tqdm(
            total=1000,
            initial=round(self.scale * sum(self.weights[k] * v for k, v in self.share.items())),
            desc=plan.study,
            disable=not enabled,
            bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed} elapsed, about {remaining} left{postfix}",
        )
        self.done = self.bar.n
        self.last_poll = 0.0

    def write(self, text: str) -> None:
        self.bar.write(text)

    def poll(self, running: list[Run]) -> None:
        if time.perf_counter() - self.last_poll < 1.0:
            return
        self.last_poll = time.perf_counter()
        for run in running:
            if run.task:
                continue
            self.share[run.key] = max(self.share[run.key], self.run_share(run))
        self._update()
        self.bar.set_postfix_str(f"{sum(v == 1.0 for v in self.share.values())}/{len(self.share)} runs")

    def run_share(self, run: Run) -> float:
        """The share of a training run's steps in its metrics.jsonl (0 before its folder exists)."""
        folder = self.plan.folder(self.study_dir, run)
        if not folder.exists():
            return 0.0
        if run.key not in self.steps:
            self.steps[run.key] = run.config().train.steps
        return min(last_step(folder) / max(self.steps[run.key], 1), 1.0)

    def finish(self, run: Run) -> None:
        self.share[run.key] = 1.0
        self._update()
        self.bar.set_postfix_str(f"{sum(v == 1.0 for v in self.share.values())}/{len(self.share)} runs")

    def _update(self) -> None:
        now = round(self.scale * sum(self.weights[k] * v for k, v in self.share.items()))
        if now > self.done:
            self.bar.update(now - self.done)
            self.done = now

    def close(self) -> None:
        self.bar.close()


def last_step(folder: Path) -> int:
    """The step of the last whole record in a run's metrics.jsonl (0 when there is none yet): read from its end."""
    path = RunFolder(folder).metrics_path
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - 4096))
            lines = handle.read().splitlines()
    except OSError:
        return 0
    for line in reversed(lines):
        try:
            return int(json.loads(line)["step"])
        except (ValueError, KeyError, TypeError):
            continue
    return 0


def print_plan(plan: Plan, study_dir: Path, out=sys.stdout) -> None:
    """One shell command per unfinished run, for any scheduler (`xargs -P`, a SLURM array, a job queue)."""
    for run in plan.runs:
        if state(plan, run, study_dir) == "done":
            continue
        argv = command(plan, run, study_dir, seeds_flag=plan.seeds)
        if run.task:
            argv += ["--out", str(study_dir.resolve())]
        elif state(plan, run, study_dir) == "partial":
            argv.append("--resume")
        print(shlex.join(argv), file=out)


def status_rows(plan: Plan, study_dir: Path) -> list[dict[str, Any]]:
    """Where each run of `plan` stands, read from its folder only (nothing starts): its state, the step it reached
    and the steps planned, its quality measure's last and best values (the key best.pt follows: FD for the image
    studies, exact W1 for the toys), its run time, and for a finished run how it ended (a long run's stop rule:
    plateau or cap). `writer`: the pid training it now, when that process is on this machine (`RunFolder.
    writer_pid`). An unfinished run's `sec_per_step` is that of its last timing record (its recent pace) and
    `seconds_left` that pace times the steps still planned: for a run under a stop rule, the most it can take."""
    from wganlab.training import stopping
    from wganlab.training.quality import build_quality

    rows = []
    for run in plan.runs:
        folder = plan.folder(study_dir, run)
        row: dict[str, Any] = {"run": run.key, "state": state(plan, run, study_dir)}
        rows.append(row)
        if run.task:
            continue
        runs = RunFolder(folder)
        if row["state"] != "done" and (writer := runs.writer_pid()) is not None:
            row["writer"] = writer
        config = load_config(runs.config_path) if runs.config_path.exists() else run.config()
        # A run sized in epochs knows its steps once it has written config.toml (they depend on its data).
        resolved = runs.config_path.exists() or not config.train.epochs
        row["planned"] = config.train.steps if resolved else f"{config.train.epochs:g} epochs"
        if row["state"] == "todo":
            continue
        outcome = runs.outcome() or {}
        row["step"] = outcome.get("step", last_step(folder))
        key = build_quality(config).headline
        values = [record[key] for record in runs.records("eval") if isinstance(record.get(key), (int, float))]
        if values:
            row.update(measure=key, last=values[-1], best=min(values))
        if row["state"] == "partial" and config.train.stop_rule == "plateau":
            row["rule"] = stopping.standing(values, min_evaluations=config.train.stop_min_evaluations,
                                            tolerance=config.train.stop_tolerance)  # fmt: skip
        timing = runs.path / "timing.jsonl"
        last = json.loads(timing.read_text().splitlines()[-1]) if timing.exists() else {}
        row["seconds"] = outcome.get("seconds", last.get("seconds"))
        if not outcome and last.get("sec_per_step") and isinstance(row["planned"], int):
            row["sec_per_step"] = last["sec_per_step"]
            row["seconds_left"] = max(row["planned"] - row["step"], 0) * last["sec_per_step"]
        if outcome:  # a long run's stop rule says plateau or cap; any other ran all its steps or diverged
            row["ended"] = "diverged" if outcome.get("status") == "diverged" else outcome.get("stopped_by", "all steps")
    return rows


def print_status(plan: Plan, study_dir: Path, out=None) -> None:
    """`wganlab study NAME --status`: a count line, then one line per run (see status_rows)."""
    out = out or sys.stdout
    rows = status_rows(plan, study_dir)
    words = {"done": "finished", "training": "training", "partial": "started", "todo": "not started"}
    shown = ["training" if "writer" in row else row["state"] for row in rows]
    counts = ", ".join(f"{shown.count(state)} {word}" for state, word in words.items())
    print(f"{plan.study} ({' '.join(size_flags(plan.size, plan.seeds, plan.recipe, plan.fp32)) or 'default size'}): "
          f"{len(rows)} runs: {counts}; folder {study_dir}", file=out)  # fmt: skip
    table = [("run", "state", "step / planned", "quality: last (best)", "hours", "s/step", "hours left",
              "ended (or the stop rule so far)")]  # fmt: skip
    for row, state in zip(rows, shown, strict=True):
        step = f"{row['step']:,}" if "step" in row else "–"
        planned = f"{row['planned']:,}" if isinstance(row.get("planned"), int) else row.get("planned", "")
        measure = f"{row['measure']} {row['last']:.4g} ({row['best']:.4g})" if "measure" in row else ""
        hours = f"{row['seconds'] / 3600:.2f}" if row.get("seconds") is not None else ""
        pace = f"{row['sec_per_step']:.3g}" if "sec_per_step" in row else ""
        # Under a stop rule the steps planned are a cap: the time left to it is the most the run can take.
        left = f"{'<= ' if 'rule' in row else ''}{row['seconds_left'] / 3600:.1f}" if "seconds_left" in row else ""
        table.append((row["run"], words[state], f"{step} / {planned}" if planned else step, measure, hours,
                      pace, left, row.get("ended", row.get("rule", ""))))  # fmt: skip
    widths = [max(len(str(line[i])) for line in table) for i in range(len(table[0]))]
    for line in table:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip(), file=out)


def missing(plan: Plan, study_dir: Path) -> list[Run]:
    return [run for run in plan.runs if state(plan, run, study_dir) != "done"]


def read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())
