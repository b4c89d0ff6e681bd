"""Plan, run and collect a study, or all of them: what `wganlab study` does.

run_study(name, size=, seeds=, jobs=, out=, mode=)   mode: "run" (plan, run, collect), "plan", "collect"
run_one(name, key, size=, seeds=, out=)             one run, as its state asks when it starts (cluster scripts)
"""

import json
import sys
import time
from pathlib import Path
from types import ModuleType

from wganlab.errors import ConfigError
from wganlab.files import atomic_write_text
from wganlab.studies.common import cluster, runner
from wganlab.studies.common.registry import all_studies, load_study
from wganlab.studies.common.report import Section, provenance, write_combined, write_section
from wganlab.studies.common.runner import SIZES, Plan, StudyError


def make_plan(name: str, size: str, seeds: int | None, data: str | None = None) -> Plan:
    if size not in SIZES:
        raise ConfigError(f"unknown study size {size!r}; choose {', '.join(SIZES)}")
    if seeds is not None and seeds < 1:
        raise ConfigError(f"--seeds={seeds} must be >= 1")
    module = load_study(name)
    if data is not None:
        if not module.TAKES_DATA:
            takers = ", ".join(m.NAME for m in all_studies(takes_data=True))
            raise ConfigError(f"--data applies to the studies that take data ({takers}), not to {name}")
        return module.plan(size, seeds, data)
    return module.plan(size, seeds)


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
    plan_format: cluster.PlanFormat | None = None,
) -> Path | None:
    """Plan, run and collect study `name` (or every study, `all`); returns the report.md written (None for
    mode "plan", which prints one command per unfinished run instead, or, as `plan_format` asks, writes a Slurm
    array script or a GNU parallel job list per study and prints the command that submits it)."""
    if jobs < 1:
        raise ConfigError(f"--jobs={jobs} must be >= 1")
    names = [m.NAME for m in all_studies(takes_data=data is not None)] if name == "all" else [name]
    plans = [make_plan(n, size, seeds, data) for n in names]
    root = Path(out) if out is not None else Path("studies")
    if name != "all":
        folders = {name: root if out is not None else root / runner.folder_name(name, size)}
    else:
        folders = {n: root / runner.folder_name(n, size) for n in names}
    if mode == "plan":
        plan_format = plan_format or cluster.PlanFormat()
        if plan_format.file is not None and len(plans) > 1:
            raise ConfigError("--plan-file names one file; `study all` writes one per study folder (leave it out)")
        for plan in plans:
            if plan_format.format == "commands":
                runner.print_plan(plan, folders[plan.study])
                continue
            path, submit = cluster.write_plan(plan, folders[plan.study], plan_format, data)
            done = cluster.finished_count(plan, folders[plan.study])
            print(f"{plan.study}: {len(plan.runs)} runs ({done} finished) in {path}", file=sys.stderr)
            print(submit)
        return None
    sections = []
    for plan in plans:
        study_dir = folders[plan.study]
        study_dir.mkdir(parents=True, exist_ok=True)
        module = load_study(plan.study)
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
    result = load_study(plan.study).run_task(plan, run, folder)
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


def run_one(
    name: str, key: str, *, size: str, seeds: int | None, out: Path | None, data: str | None = None
) -> list[str] | None:
    """`wganlab study NAME --run KEY`, what the cluster scripts call: the run's folder decides, when it starts,
    what is left to do. A finished run: nothing (None). A task: done here (None). A training run: the `wganlab`
    arguments that train it, with --resume when it holds a checkpoint (the CLI runs them in this process)."""
    plan = make_plan(name, size, seeds, data)
    study_dir = Path(out) if out is not None else Path("studies") / runner.folder_name(name, size)
    run = next((run for run in plan.runs if run.key == key), None)
    if run is None:
        raise ConfigError(f"study {name} has no run {key!r} at size {size} (see `wganlab study {name} --plan`)")
    current = runner.state(plan, run, study_dir)
    folder = plan.folder(study_dir, run)
    if current == "done":
        print(f"{name} {key}: finished already ({folder}); nothing to do", file=sys.stderr)
        return None
    if run.task:
        perform_task(plan, run, folder)
        return None
    folder.mkdir(parents=True, exist_ok=True)
    return runner.run_argv(plan, run, study_dir, current)[1:]  # without the leading "wganlab"
