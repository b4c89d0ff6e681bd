"""Studies: each reproduces a figure or a claim of the seeds, as a plan of runs (see `runner`).

A study module has `NAME`, `plan(size, seeds) -> Plan` and `collect(plan, study_dir) -> Section`; a study
whose runs are its own computations rather than training runs also has `run_task(plan, run, folder)`, and any
may have `summary(run, folder) -> str` for the line printed when a run finishes.

    run_study(name, size=, seeds=, jobs=, out=, mode=)   mode: "run" (plan, run, collect), "plan", "collect"
"""

import json
import sys
import time
from importlib import import_module
from pathlib import Path
from types import ModuleType

from wganlab.errors import ConfigError
from wganlab.files import atomic_write_text
from wganlab.studies import runner
from wganlab.studies.report import Section, provenance, write_combined, write_section
from wganlab.studies.runner import SIZES, Plan, StudyError

# name -> module under wganlab.studies. Filled here, read-only.
STUDIES: dict[str, str] = {
    "distances": "distances",
    "critic-response-1d": "critic_response",
    "value-surface": "value_surface",
    "toy-training": "toy_training",
    "loss-vs-quality-toy": "loss_vs_quality",
    "loss-vs-quality": "loss_vs_quality_images",
    "batchnorm": "batchnorm",
    "architecture-grid": "architecture_grid",
    "n-critic": "n_critic",
    "clip-sweep": "clip_sweep",
    "quality-vs-time": "quality_vs_time",
    "random-architectures": "random_architectures",
}
IMAGE_STUDIES = ("loss-vs-quality", "batchnorm", "architecture-grid", "n-critic", "clip-sweep", "quality-vs-time")


def study_module(name: str) -> ModuleType:
    if name not in STUDIES:
        raise ConfigError(f"unknown study {name!r}; choose one of {', '.join(STUDIES)} or all")
    return import_module(f"wganlab.studies.{STUDIES[name]}")


def make_plan(name: str, size: str, seeds: int | None, data: str | None = None) -> Plan:
    if size not in SIZES:
        raise ConfigError(f"unknown study size {size!r}; choose {', '.join(SIZES)}")
    if seeds is not None and seeds < 1:
        raise ConfigError(f"--seeds={seeds} must be >= 1")
    if data is not None:
        if name not in IMAGE_STUDIES:
            raise ConfigError(f"--data applies to the image studies ({', '.join(IMAGE_STUDIES)}), not to {name}")
        return study_module(name).plan(size, seeds, data)
    return study_module(name).plan(size, seeds)


def run_study(
    name: str,
    *,
    size: str = "default",
    seeds: int | None = None,
    jobs: int = 1,
    out: Path | None = None,
    mode: str = "run",
    progress: bool = True,
    data: str | None = None,
) -> Path | None:
    """Plan, run and collect study `name` (or every study, `all`); returns the report.md written (None for
    mode "plan", which prints one command per unfinished run instead)."""
    if jobs < 1:
        raise ConfigError(f"--jobs={jobs} must be >= 1")
    names = list(STUDIES) if name == "all" else [name]
    if name == "all" and data is not None:
        names = list(IMAGE_STUDIES)
    plans = [make_plan(n, size, seeds, data) for n in names]
    root = Path(out) if out is not None else Path("studies")
    if name != "all":
        folders = {name: root if out is not None else root / runner.folder_name(name, size)}
    else:
        folders = {n: root / runner.folder_name(n, size) for n in names}
    if mode == "plan":
        for plan in plans:
            runner.print_plan(plan, folders[plan.study])
        return None
    sections = []
    for plan in plans:
        study_dir = folders[plan.study]
        study_dir.mkdir(parents=True, exist_ok=True)
        module = study_module(plan.study)
        if mode == "run":
            failed = runner.execute(plan, study_dir, jobs=jobs, summary=getattr(module, "summary", None),
                                    progress=progress)  # fmt: skip
            if failed:
                raise StudyError(
                    f"{len(failed)} run(s) of {plan.study} failed ({', '.join(failed[:3])}); their console.txt "
                    "says why; rerun the same command to retry them (finished runs are kept)"
                )
        sections.append(collect(plan, study_dir, module))
    if name == "all":
        md, _ = write_combined(sections, root, "wganlab toy studies" + ("" if size == "default" else f" ({size})"),
                               folders={s.name: folders[s.name].relative_to(root) for s in sections})  # fmt: skip
        return md
    return folders[name] / "report.md"


def collect(plan: Plan, study_dir: Path, module: ModuleType) -> Section:
    """The study's report from its run folders; StudyError naming what is missing when runs are unfinished."""
    missing = runner.missing(plan, study_dir)
    if missing:
        flags = " ".join(runner.size_flags(plan.size, plan.seeds))
        raise StudyError(
            f"{len(missing)} of {len(plan.runs)} runs of {plan.study} are not finished (first: {missing[0].key}); "
            f"run `wganlab study {plan.study} {flags}` (or the commands of --plan) first"
        )
    started = time.perf_counter()
    section = module.collect(plan, study_dir)
    run_seconds = sum(run_time(plan.folder(study_dir, run), run) for run in plan.runs)
    section.header = provenance(plan.size, plan.seeds, len(plan.runs), run_seconds)
    write_section(section, study_dir)
    record = {
        "study": plan.study,
        "size": plan.size,
        "seeds": plan.seeds,
        "runs": len(plan.runs),
        "run_seconds": round(run_seconds, 1),
        "collect_seconds": round(time.perf_counter() - started, 1),
    }
    atomic_write_text(study_dir / "timing.json", json.dumps(record, indent=2) + "\n")
    print(f"study {plan.study}: {len(plan.runs)} runs, {run_seconds / 3600:.2f} h of run time -> "
          f"{study_dir / 'report.md'}", file=sys.stderr)  # fmt: skip
    return section


def run_time(folder: Path, run: runner.Run) -> float:
    """Wall-clock seconds a finished run took (its outcome.json or result.json)."""
    path = folder / ("result.json" if run.task else "outcome.json")
    return float(json.loads(path.read_text()).get("seconds", 0.0))


def perform_task(plan: runner.Plan, run: runner.Run, folder: Path) -> dict:
    """One task run into `folder`: task.json (the settings, which the runner checks before reusing it),
    then the study module's computation, then result.json (its numbers and seconds), the mark of a finished run."""
    folder.mkdir(parents=True, exist_ok=True)
    record = {"study": plan.study, "key": run.key, "size": plan.size, "settings": runner.task_settings(plan)}
    atomic_write_text(folder / "task.json", json.dumps(record, indent=2) + "\n")
    started = time.perf_counter()
    result = study_module(plan.study).run_task(plan, run, folder)
    result["seconds"] = round(time.perf_counter() - started, 3)
    atomic_write_text(folder / "result.json", json.dumps(result, indent=2) + "\n")
    return result


def run_task(name: str, key: str, *, size: str, seeds: int | None, out: Path | None) -> Path:
    """`wganlab study NAME --task KEY`: one of a study's own runs (what the runner's subprocesses call)."""
    plan = make_plan(name, size, seeds)
    study_dir = Path(out) if out is not None else Path("studies") / runner.folder_name(name, size)
    matches = [run for run in plan.runs if run.key == key and run.task]
    if not matches:
        raise ConfigError(f"study {name} has no task {key!r} at size {size} (see `wganlab study {name} --plan`)")
    folder = plan.folder(study_dir, matches[0])
    perform_task(plan, matches[0], folder)
    return folder


__all__ = ["IMAGE_STUDIES", "STUDIES", "make_plan", "perform_task", "run_study", "run_task", "study_module"]
