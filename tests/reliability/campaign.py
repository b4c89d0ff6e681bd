"""Fault injection for training runs: SIGKILL (or a full disk) at every stage of every file a run writes, and at
random moments; each run is then resumed and compared bit for bit with an uninterrupted one.

Every run is a fresh process of its own, as a user starts it: `python -m wganlab train ...`, or, where an
injection point is armed, `python campaign.py --child SPEC train ...`, which installs the injector and then runs
`python -m wganlab` in that interpreter (runpy). Nothing is forked from a parent that imported wganlab, so the
comparison includes what differs between processes (the process-wide RNG states, hash order). A child is killed
with a real SIGKILL, by itself at a deterministic injection point or by the parent at a random moment. The
injection points are the file-system calls the run makes inside its run folder:

    temp-created   atomic_write made its temp file (empty)        replaced   the rename is done
    torn           the temp file holds half of what was written   synced     the folder's rename is durable
    written        the temp file is whole, not yet renamed        linked     latest.pt's temp is a hard link
    before-append  a metrics/timing line is about to be appended  unlinked   a file (an old step file) is gone
    append-torn    half of that line is on disk                    appended   the whole line is on disk

Run by hand for docs/reliability.md (the tests in this folder run smaller selections):

    OMP_NUM_THREADS=1 python tests/reliability/campaign.py --out /tmp/campaign --random 40 --json results.json

(with wganlab importable by a fresh `python`: installed, or on PYTHONPATH)
"""

import argparse
import contextlib
import errno
import json
import os
import random
import runpy
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import SimpleNamespace

import torch

# Steps 1-8; records at 3, 6, 8 (the checkpoint at 4 falls between two, so it carries loss sums), evaluations at
# 3, 6, 8 (best.pt), pictures at 4, 8, checkpoints at 4 and 8 with one step file kept (the one at 4 is pruned).
TINY = [
    "eight_gaussians/wgan-gp",
    "model.generator_widths=16,16",
    "model.critic_widths=16,16",
    "train.batch_size=16",
    "train.steps=8",
    "train.device=cpu",
    "log.log_every=3",
    "log.eval_every=3",
    "log.eval_samples=64",
    "log.sample_every=4",
    "log.grid_size=4",
    "log.checkpoint_every=4",
    "log.keep_checkpoints=1",
    "log.progress=false",
    "log.tensorboard=false",
]
ASPECTS = ("networks", "optimisers", "metrics", "generator", "samples", "state")


def train_argv(out: Path, *extra: str) -> list[str]:
    return ["train", *TINY, *extra, "--out", str(out)]


# --- inside a child: the injection points ------------------------------------------------------------------


class Fire(Exception):
    """Never raised: marks where an injection acts."""


class Injector:
    """Counts the file-system events a run makes inside `run_dir`; at event number `target` it acts: "kill"
    (SIGKILL itself, after tearing the file when the event is a torn one), "enospc" (an OSError ENOSPC, as a
    full disk gives), or "pause" (wait until `resume_file` exists). With `record`, it writes every event there."""

    def __init__(self, run_dir: Path, target: int = 0, action: str = "kill", record: Path | None = None):
        self.run_dir = os.path.realpath(run_dir)
        self.target, self.action, self.record = target, action, record
        self.spec = json.dumps([os.fspath(run_dir), target, action, os.fspath(record) if record else None])
        self.count = 0
        self.events: list[tuple[str, str]] = []
        self.last_replaced = ""

    def inside(self, path) -> bool:
        return os.path.realpath(os.fspath(path)).startswith(self.run_dir + os.sep)

    def relative(self, path) -> str:
        return os.path.relpath(os.path.realpath(os.fspath(path)), self.run_dir)

    def event(self, op: str, path, tear=None) -> None:
        """`tear`: what makes the on-disk state of a torn event (truncate a temp file, write half a line)."""
        if not self.inside(path):
            return
        self.count += 1
        if self.record is not None:
            self.events.append((op, self.relative(path)))
            self.record.write_text(json.dumps(self.events))
        if self.count != self.target:
            return
        if self.action == "pause":
            flag = Path(self.run_dir).parent / "paused"
            flag.write_text(str(os.getpid()))
            while not (Path(self.run_dir).parent / "go").exists():
                time.sleep(0.02)
            return
        if tear is not None:
            tear()
        if self.action == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        if self.action == "enospc":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), os.fspath(path))


class OsProxy(SimpleNamespace):
    """The `os` module as seen by one wganlab module, with the calls that publish files reporting events."""

    def __init__(self, injector: Injector):
        super().__init__()
        self._injector = injector

    def __getattr__(self, name):
        return getattr(os, name)

    def replace(self, source, target):
        inj = self._injector
        if str(source).endswith(".tmp"):
            if os.stat(source).st_nlink == 1:  # latest.pt's temp is a hard link to a step file: never torn
                half = os.path.getsize(source) // 2
                inj.event("torn", target, tear=lambda: os.truncate(source, half))
            inj.event("written", target)
        os.replace(source, target)
        inj.last_replaced = os.fspath(target)
        inj.event("replaced", target)

    def fsync(self, descriptor):
        os.fsync(descriptor)
        with contextlib.suppress(OSError):
            if os.path.isdir(os.readlink(f"/proc/self/fd/{descriptor}")) and self._injector.last_replaced:
                self._injector.event("synced", self._injector.last_replaced)

    def write(self, descriptor, data):
        inj = self._injector
        path = os.readlink(f"/proc/self/fd/{descriptor}")
        inj.event("before-append", path)
        half = bytes(data[: len(data) // 2])
        inj.event("append-torn", path, tear=lambda: os.write(descriptor, half) and None)
        written = os.write(descriptor, data)
        inj.event("appended", path)
        return written

    def link(self, source, target):
        os.link(source, target)
        self._injector.event("linked", target)

    def unlink(self, path, *args, **kwargs):
        os.unlink(path, *args, **kwargs)
        if not str(path).endswith(".tmp"):
            self._injector.event("unlinked", path)


class TempfileProxy(SimpleNamespace):
    def __init__(self, injector: Injector):
        super().__init__()
        self._injector = injector

    def __getattr__(self, name):
        return getattr(tempfile, name)

    def mkstemp(self, *args, **kwargs):
        handle, temp = tempfile.mkstemp(*args, **kwargs)
        final = os.path.join(os.path.dirname(temp), os.path.basename(temp)[1:].rsplit(".", 2)[0])

        def gone():
            os.close(handle)
            os.unlink(temp)

        self._injector.event("temp-created", final, tear=gone if self._injector.action == "enospc" else None)
        return handle, temp


def install(injector: Injector) -> None:
    import pathlib

    import wganlab.files
    import wganlab.training.checkpoint

    proxy = OsProxy(injector)
    wganlab.files.os = proxy
    wganlab.files.tempfile = TempfileProxy(injector)
    wganlab.training.checkpoint.os = proxy
    pathlib.os = proxy  # Path.unlink: pruned step files


# --- the parent: children, kills, comparisons ----------------------------------------------------------------


ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


@dataclass
class Child:
    process: subprocess.Popen
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait(self) -> tuple[str, int]:
        """("killed", signal) or ("exit", code)."""
        code = self.process.wait()
        return ("killed", -code) if code < 0 else ("exit", code)

    def stderr(self) -> list[str]:
        return self.log.read_text(errors="replace").splitlines()


def _default_sigint() -> None:
    # A campaign started in the background inherits SIGINT ignored, and Python keeps it so: give the child
    # Python's own Ctrl-C (KeyboardInterrupt), as a user's terminal does.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start(argv: list[str], log: Path, injector: Injector | None = None) -> Child:
    """Start `wganlab argv` as a fresh process (with `injector` installed), its stdout and stderr into `log`."""
    if injector is None:
        command = [sys.executable, "-m", "wganlab", *argv]
    else:
        command = [sys.executable, os.path.abspath(__file__), "--child", injector.spec, *argv]
    with open(log, "w") as output:
        process = subprocess.Popen(
            command, stdout=output, stderr=subprocess.STDOUT, env=ENV, preexec_fn=_default_sigint
        )
    return Child(process, log)


def child(spec: str, argv: list[str]) -> None:
    """In a fresh process: install the injector, then run `python -m wganlab argv` here."""
    run_dir, target, action, record = json.loads(spec)
    install(Injector(Path(run_dir), target, action, Path(record) if record else None))
    sys.argv = ["wganlab", *argv]
    runpy.run_module("wganlab", run_name="__main__", alter_sys=True)


def run(argv: list[str], log: Path, injector: Injector | None = None) -> tuple[str, int]:
    return start(argv, log, injector).wait()


def wait_for_start(child: Child, run_dir: Path) -> None:
    """Until the child has taken its run folder's lock (its interpreter and imports are up), or has ended."""
    while not (run_dir / ".lock").exists() and child.process.poll() is None:
        time.sleep(0.01)


def _equal(a, b) -> bool:
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def _load(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


def compare(run_dir: Path, reference: Path) -> dict[str, bool]:
    """Which parts of a finished run equal the uninterrupted run's, bit for bit. best.pt counts with the networks
    and optimisers. "state": every RNG state (the run's streams and the process-wide torch, numpy and Python ones,
    which training seeds from train.seed), the data position, counters, loss sums and end-of-run notes."""
    result = dict.fromkeys(ASPECTS, False)
    try:
        pairs = [(_load(run_dir / "checkpoints" / name), _load(reference / "checkpoints" / name)) for name in
                 ("latest.pt", "best.pt")]  # fmt: skip
    except Exception:
        return result
    result["networks"] = all(_equal(a[k], b[k]) for a, b in pairs for k in ("generator", "critic"))
    result["optimisers"] = all(
        _equal(a[k], b[k]) for a, b in pairs for k in ("generator_opt", "critic_opt", "generator_scaler")
    )
    rest = ("step", "images_seen", "best_metric", "data", "stats", "rng", "end_of_run")
    result["state"] = all(all(_equal(a.get(k), b.get(k)) for k in rest) for a, b in pairs)
    result["metrics"] = (run_dir / "metrics.jsonl").read_bytes() == (reference / "metrics.jsonl").read_bytes()
    generator = "checkpoints/generator.safetensors"
    result["generator"] = (run_dir / generator).read_bytes() == (reference / generator).read_bytes()
    names = sorted(p.name for p in (reference / "samples").iterdir())
    result["samples"] = sorted(p.name for p in (run_dir / "samples").iterdir()) == names and all(
        (run_dir / "samples" / n).read_bytes() == (reference / "samples" / n).read_bytes() for n in names
    )
    return result


def clean(run_dir: Path) -> bool:
    """A finished run leaves no temp file, nothing set aside, and says it finished."""
    leftovers = [p for p in run_dir.rglob("*") if p.name.endswith((".tmp", ".corrupt"))]
    outcome = json.loads((run_dir / "outcome.json").read_text()) if (run_dir / "outcome.json").exists() else {}
    return not leftovers and outcome.get("status") == "finished" and outcome.get("step") == 8


@dataclass
class Trial:
    """One run: killed (or filled up) at one or more points, then resumed until it finishes."""

    name: str
    kills: int = 0
    resumed: bool = False
    clean: bool = False
    bitwise: dict[str, bool] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)
    note: str = ""


class Campaign:
    def __init__(self, root: Path):
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.reference = root / "reference" / "run"
        self.events: list[tuple[str, str]] = []
        self.seconds = 0.0
        self.trials: list[Trial] = []

    def prepare(self) -> None:
        """The uninterrupted reference run, recording its events and how long it takes once its process is up."""
        self.reference.parent.mkdir(parents=True, exist_ok=True)
        record = self.root / "reference" / "events.json"
        child = start(
            train_argv(self.reference), self.root / "reference" / "log.txt", Injector(self.reference, 0, record=record)
        )
        wait_for_start(child, self.reference)
        started = time.perf_counter()
        outcome = child.wait()
        self.seconds = time.perf_counter() - started
        assert outcome == ("exit", 0), (outcome, (self.root / "reference" / "log.txt").read_text())
        self.events = [tuple(event) for event in json.loads(record.read_text())]

    def find(self, selection: str) -> list[int]:
        """Event numbers from "12,torn:checkpoints/step-00000004.pt,append-torn:metrics.jsonl#3": a number, or
        op:path for its first occurrence, op:path#n for its n-th."""
        found = []
        for item in filter(None, selection.split(",")):
            if item.isdigit():
                found.append(int(item))
                continue
            event, _, nth = item.partition("#")
            op, path = event.split(":", 1)
            matches = [number for number, seen in enumerate(self.events, 1) if seen == (op, path)]
            found.append(matches[int(nth or 1) - 1])
        return found

    def folder(self, name: str) -> Path:
        folder = self.root / name
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        return folder

    def finish(self, trial: Trial, run_dir: Path, logs: Path) -> Trial:
        outcome = run(train_argv(run_dir, "--resume"), logs / "resume.txt")
        trial.messages = [line for line in (logs / "resume.txt").read_text().splitlines() if "warning" in line]
        trial.resumed = outcome == ("exit", 0)
        if not trial.resumed:
            trial.note = f"resume ended {outcome}: {' | '.join((logs / 'resume.txt').read_text().splitlines()[-3:])}"
        else:
            trial.clean = clean(run_dir)
            trial.bitwise = compare(run_dir, self.reference)
        self.trials.append(trial)
        return trial

    def kill_at(self, index: int, then: list[int] = ()) -> Trial:
        """SIGKILL at event `index` of the run, then at event `then[0]` of the first resume, and so on; then a
        resume to the end."""
        op, path = self.events[index - 1]
        trial = Trial(
            f"kill at event {index} ({op} {path})" + (f", then at {list(then)} of the resumes" if then else "")
        )
        logs = self.folder(f"kill-{index}-{'-'.join(map(str, then))}")
        run_dir = logs / "run"
        outcome = run(train_argv(run_dir), logs / "first.txt", Injector(run_dir, index))
        if outcome != ("killed", signal.SIGKILL):
            trial.note = f"not killed: {outcome}"
            self.trials.append(trial)
            return trial
        trial.kills = 1
        for number, target in enumerate(then):
            outcome = run(train_argv(run_dir, "--resume"), logs / f"again-{number}.txt", Injector(run_dir, target))
            if outcome == ("killed", signal.SIGKILL):
                trial.kills += 1
            elif outcome != ("exit", 0):
                trial.note = f"a resume ended {outcome}"
        return self.finish(trial, run_dir, logs)

    def kill_randomly(self, number: int, rng: random.Random) -> Trial:
        """SIGKILL from outside after a random delay within the reference run's duration (from its lock on)."""
        trial = Trial(f"random kill {number}")
        logs = self.folder(f"random-{number}")
        run_dir = logs / "run"
        delay = rng.uniform(0.02, 0.98) * self.seconds
        child = start(train_argv(run_dir), logs / "first.txt")
        wait_for_start(child, run_dir)
        time.sleep(delay)
        with contextlib.suppress(ProcessLookupError):
            os.kill(child.pid, signal.SIGKILL)
        outcome = child.wait()
        trial.note = f"after {delay:.3f} s"
        if outcome == ("killed", signal.SIGKILL):
            trial.kills = 1
        return self.finish(trial, run_dir, logs)

    def fill_disk_at(self, index: int) -> Trial:
        """An ENOSPC at event `index` (a temp file, a write, an append): one error line with the resume command,
        exit 2; that command then finishes the run."""
        op, path = self.events[index - 1]
        trial = Trial(f"disk full at event {index} ({op} {path})")
        logs = self.folder(f"enospc-{index}")
        run_dir = logs / "run"
        outcome = run(train_argv(run_dir), logs / "first.txt", Injector(run_dir, index, action="enospc"))
        lines = (logs / "first.txt").read_text().splitlines()
        trial.messages = [line for line in lines if not line.startswith("run folder:")]
        command = resume_from_message(trial.messages)
        one_line = len(trial.messages) == 1 and trial.messages[0].startswith("wganlab train: error: disk full: ")
        if outcome != ("exit", 2) or not one_line or command is None:
            trial.note = f"ended {outcome} with {trial.messages}"
            self.trials.append(trial)
            return trial
        outcome = run(command, logs / "resume.txt")
        trial.resumed = outcome == ("exit", 0)
        if trial.resumed:
            trial.clean = clean(run_dir)
            trial.bitwise = compare(run_dir, self.reference)
        self.trials.append(trial)
        return trial

    def paused(self, name: str, at: str) -> tuple[Path, Child]:
        """A run that stops at event `at` (op:path), still holding its folder, until `go` is created."""
        logs = self.folder(name)
        run_dir = logs / "run"
        child = start(train_argv(run_dir), logs / "paused-run.txt", Injector(run_dir, self.find(at)[0], "pause"))
        while not (logs / "paused").exists():
            time.sleep(0.02)
        return logs, child

    def two_writers(self) -> dict:
        """A run paused after its first step file holds the folder: a second `train` and a `--resume` are each
        refused in one line naming it; the first run then ends as if alone. Then two runs started together on one
        new folder: one trains, the other is refused."""
        logs, first = self.paused("writers", "replaced:checkpoints/step-00000004.pt")
        run_dir = logs / "run"
        second = run(train_argv(run_dir), logs / "second.txt")
        resumer = run(train_argv(run_dir, "--resume"), logs / "resumer.txt")
        (logs / "go").touch()
        result = {
            "holder_pid": first.pid,
            "second": [*second, errors(logs / "second.txt")],
            "resumer": [*resumer, errors(logs / "resumer.txt")],
            "first": list(first.wait()),
            "clean": clean(run_dir),
            "bitwise": compare(run_dir, self.reference),
        }
        race = self.folder("race")
        runners = [start(train_argv(race / "run"), race / f"{name}.txt") for name in ("x", "y")]
        result["race"] = [[*runner.wait(), errors(runner.log)] for runner in runners]
        result["race_clean"] = clean(race / "run")
        result["race_bitwise"] = compare(race / "run", self.reference)
        return result

    def signal_at(self, name: str, number: signal.Signals, at: str | None = None) -> Trial:
        """SIGTERM or SIGINT while a run is paused at event `at` (or at a random moment): one line with the exact
        resume command, exit 143 or 130; that command then finishes the run bit for bit."""
        trial = Trial(f"{number.name} at {at or 'a random moment'}")
        fraction = random.Random(number).uniform(0.1, 0.6)
        for _ in range(4):  # a run that ended before the signal came is started again, signalled sooner
            if at is None:
                logs = self.folder(name)
                child = start(train_argv(logs / "run"), logs / "paused-run.txt")
                wait_for_start(child, logs / "run")
                time.sleep(fraction * self.seconds)
                fraction /= 2
            else:
                logs, child = self.paused(name, at)
            os.kill(child.pid, number)
            outcome = child.wait()
            if "done: step 8" not in child.log.read_text():
                break
        trial.messages = [line for line in child.stderr() if not line.startswith("run folder:")]
        command = resume_from_message(trial.messages)
        if outcome != ("exit", 128 + number) or command is None:
            trial.note = f"ended {outcome}"
            self.trials.append(trial)
            return trial
        trial.resumed = run(command, logs / "resume.txt") == ("exit", 0)
        if trial.resumed:
            trial.clean = clean(logs / "run")
            trial.bitwise = compare(logs / "run", self.reference)
        self.trials.append(trial)
        return trial


def errors(log: Path) -> list[str]:
    return [line for line in log.read_text().splitlines() if not line.startswith("run folder:")]


def resume_from_message(lines: list[str]) -> list[str] | None:
    """The argv (after `wganlab`) of the resume command an error line ends with."""
    if len(lines) != 1 or "resume with: " not in lines[0]:
        return None
    words = shlex.split(lines[0].split("resume with: ", 1)[1])
    return words[1:] if words and words[0] == "wganlab" else None


def summary(trials: list[Trial]) -> dict:
    killed = [t for t in trials if t.kills]
    return {
        "trials": len(trials),
        "kills": sum(t.kills for t in trials),
        "killed_trials": len(killed),
        "resumed": sum(t.resumed for t in killed),
        "clean": sum(t.clean for t in killed),
        "bitwise": {aspect: sum(t.bitwise.get(aspect, False) for t in killed) for aspect in ASPECTS},
        "all_bitwise": sum(all(t.bitwise.get(a, False) for a in ASPECTS) for t in killed),
    }


def disk_summary(trials: list[Trial]) -> dict:
    return {
        "tried": len(trials),
        "one_line_exit_2": sum(bool(t.messages) and not t.note for t in trials),
        "resumed": sum(t.resumed for t in trials),
        "clean": sum(t.clean for t in trials),
        "bitwise": {aspect: sum(t.bitwise.get(aspect, False) for t in trials) for aspect in ASPECTS},
        "all_bitwise": sum(bool(t.bitwise) and all(t.bitwise.values()) for t in trials),
    }


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2], sys.argv[3:])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="scratch folder (emptied)")
    parser.add_argument("--random", type=int, default=30, help="random-moment kills")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--events", default="all", help="'all', or a comma list of events to kill at: numbers or op:path (first match)"
    )
    parser.add_argument("--disk-full-at", default="", help="a comma list of events (op:path) for an ENOSPC")
    parser.add_argument("--chains", type=int, default=8, help="kill the resume too, at up to this many events")
    parser.add_argument("--disk-full", action="store_true", help="also an ENOSPC at every write event")
    parser.add_argument("--writers", action="store_true", help="also two writers on one folder")
    parser.add_argument("--signals", action="store_true", help="also SIGTERM and SIGINT, paused and at random")
    parser.add_argument("--json", help="write the trials and the summary here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    root = Path(args.out)
    shutil.rmtree(root, ignore_errors=True)
    campaign = Campaign(root)
    started = time.perf_counter()
    campaign.prepare()
    print(f"reference: {len(campaign.events)} events in {campaign.seconds:.2f} s", file=sys.stderr)
    print(Counter(op for op, _ in campaign.events), file=sys.stderr)
    indices = range(1, len(campaign.events) + 1) if args.events == "all" else campaign.find(args.events)
    for index in indices:
        trial = campaign.kill_at(index)
        bitwise = bool(trial.bitwise) and all(trial.bitwise.values())
        print(f"{trial.name}: resumed={trial.resumed} bitwise={bitwise} {trial.note}", file=sys.stderr)
    # Kills during a resume's repair: first killed right after the final step file, then at each event of the
    # resume that rebuilds its generator.safetensors and latest.pt.
    final_step = next(
        i for i, (op, path) in enumerate(campaign.events, 1) if op == "replaced" and path.endswith("step-00000008.pt")
    )
    for depth in range(1, args.chains + 1):
        trial = campaign.kill_at(final_step, then=list(range(1, depth + 1)))
        print(f"{trial.name}: kills={trial.kills} resumed={trial.resumed} {trial.note}", file=sys.stderr)
    rng = random.Random(args.seed)
    for number in range(args.random):
        trial = campaign.kill_randomly(number, rng)
        print(f"{trial.name}: kills={trial.kills} resumed={trial.resumed} {trial.note}", file=sys.stderr)
    disk = [campaign.fill_disk_at(index) for index in campaign.find(args.disk_full_at)]
    if args.disk_full:
        for index, (op, _) in enumerate(campaign.events, 1):
            if op in ("temp-created", "torn", "append-torn"):
                disk.append(campaign.fill_disk_at(index))
    writers = campaign.two_writers() if args.writers else None
    signals = []
    if args.signals:
        signals = [
            campaign.signal_at("sigterm-in-a-write", signal.SIGTERM, "written:checkpoints/step-00000008.pt"),
            campaign.signal_at("sigint-in-an-append", signal.SIGINT, "before-append:metrics.jsonl#3"),
            campaign.signal_at("sigterm-random", signal.SIGTERM),
            campaign.signal_at("sigint-random", signal.SIGINT),
        ]
    kills = [t for t in campaign.trials if t.kills]
    result = {
        "date": time.strftime("%Y-%m-%d"),
        "seconds": round(time.perf_counter() - started, 1),
        "reference_events": len(campaign.events),
        "event_kinds": dict(Counter(op for op, _ in campaign.events)),
        "kills": summary(kills),
        "disk_full": disk_summary(disk),
        "writers": writers,
        "signals": [asdict(t) for t in signals],
        "trials": [asdict(t) for t in campaign.trials],
    }
    print(json.dumps({k: v for k, v in result.items() if k != "trials"}, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
