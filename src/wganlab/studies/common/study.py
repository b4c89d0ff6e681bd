"""Plan, run and collect a study, or all of them: what `wganlab study` does.

run_study(name, size=, seeds=, jobs=, out=, mode=)   mode: "run" (plan, run, collect), "plan", "collect"
run_one(name, key, size=, seeds=, out=)             one run, as its state asks when it starts (cluster scripts)
"""

import json
import time
from pathlib import Path
from types import ModuleType

from wganlab.errors import ConfigError, say
from wganlab.files import atomic_write_text
from wganlab.provenance import source_revision
from wganlab.studies.common import cluster, images, recipes, runner
from wganlab.studies.common.registry import all_studies, load_study
from wganlab.studies.common.report import Section, provenance, write_combined, write_section
from wganlab.studies.common.runner import SIZES, Plan, StudyError


def make_plan(
    name: str,
    size: str,
    seeds: int | None,
    data: str | None = None,
    recipe: str = "published",
    fp32: bool = False,
    quiet: bool = False,
) -> Plan:
    """The study's plan; `fp32` (`--fp32`): its fast-path runs train in fp32, in a pool of their own. A study whose
    runs all train in fp32 already keeps its runs; in a pool whose other studies have fast-path runs (a `long`,
    `paper` or seed-recipe image pool) it still moves to the fp32 twin of that pool, so that it shares runs with
    them (clip-sweep's WGAN runs are loss-vs-quality's); elsewhere (the toys, the default sizes) nothing changes.
    Either is said unless `quiet`."""
    plan = _make_plan(name, size, seeds, data, recipe)
    if not fp32:
        return plan
    token = images.FP32_ONLY.set(True)
    try:
        plain = _make_plan(name, size, seeds, data, recipe)
    finally:
        images.FP32_ONLY.reset(token)
    if [run.overrides for run in plain.runs] == [run.overrides for run in plan.runs]:
        if not plan.settings.get("fast"):
            if not quiet:
                say(f"--fp32: {name} has no fast-path runs at this size and recipe; nothing changes")
            return plan
        if not quiet:
            say(f"--fp32: {name}'s runs train in fp32 already; they go to the fp32 pool "
                f"({Path(plan.runs_dir).name}-fp32), shared with the studies whose runs the flag changes")  # fmt: skip
    plain.fp32 = True
    plain.runs_dir = f"{plain.runs_dir.rstrip('/')}-fp32"
    return plain


def bf16_warning(plan: Plan, todo: list[runner.Run]) -> str | None:
    """A line for a plan whose runs still to train include bf16 ones on a machine that would emulate bf16 (a CPU
    without AVX512-BF16 or AMX), naming --fp32 where that changes the plan; None when the machine computes bf16
    natively or no such run is left."""
    import torch

    from wganlab.training.precision import native_bf16

    bf16 = [run for run in todo if not run.task and run.preset and run.config().train.precision == "bf16"]
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if not bf16 or native_bf16(device):
        return None
    fix = "; add --fp32 to train them in fp32 (in a pool of its own)" if not plan.fp32 else ""
    return (
        f"warning: {len(bf16)} of the {len(todo)} runs left train in bf16 autocast (the fast path), but this CPU has "
        f"no bf16 instructions (no AVX512-BF16 or AMX): bf16 is emulated, measured 16x slower than fp32{fix}"
    )


def _make_plan(name: str, size: str, seeds: int | None, data: str | None, recipe: str) -> Plan:
    if size not in SIZES:
        raise ConfigError(f"unknown study size {size!r}; choose {', '.join(SIZES)}")
    if seeds is not None and seeds < 1:
        raise ConfigError(f"--seeds={seeds} must be >= 1")
    module = load_study(name)
    own = getattr(module, "SIZES", None)  # the studies that keep sizes of their own (the others take the cells')
    if own is not None and size not in own:
        flag = "--quick" if size == "quick" else f"--scale {size}" if size != "default" else "the default size"
        raise ConfigError(f"study {name} has no {size} size ({flag}); its sizes: {', '.join(own)}")
    recipes.seed_recipe(module, recipe)  # refuses a recipe the study does not have
    # Only the studies with a seed recipe take the argument (the others have one recipe).
    chosen = {"recipe": recipe} if recipe != "published" else {}
    if data is not None:
        if not module.TAKES_DATA:
            takers = ", ".join(m.NAME for m in all_studies(takes_data=True))
            raise ConfigError(f"--data applies to the studies that take data ({takers}), not to {name}")
        plan = module.plan(size, seeds, data, **chosen)
    else:
        plan = module.plan(size, seeds, **chosen)
    plan.recipe = recipe
    return plan


def study_names_for(name: str, data: str | None, recipe: str) -> list[str]:
    """The studies `name` stands for: itself, or for `all` every study (that takes --data, when given; that has a
    seed recipe, for --recipe seed)."""
    if name != "all":
        return [name]
    modules = all_studies(takes_data=data is not None)
    if recipe != "published":
        modules = [m for m in modules if getattr(m, "SEED_RECIPE", None)]
    return [m.NAME for m in modules]


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
    recipe: str = "published",
    records: Path | None = None,
    fp32: bool = False,
) -> Path | None:
    """Plan, run and collect study `name` (or every study, `all`); returns the report.md written (None for
    mode "plan", which prints one command per unfinished run instead, or, as `plan_format` asks, writes a Slurm
    array script or a GNU parallel job list per study and prints the command that submits it; None for mode
    "status", which prints where each run stands).

    `records`: with mode "collect", read the runs from that folder of committed records (its `image-runs/`,
    `random-architectures-runs/`, ...: the pools' names) instead of the study folder's pool; nothing is copied
    and nothing is written there."""
    if jobs < 1:
        raise ConfigError(f"--jobs={jobs} must be >= 1")
    if records is not None:
        if mode != "collect":
            raise ConfigError("--records is for --collect: it reads finished runs, it trains nothing")
        if not Path(records).is_dir():
            raise ConfigError(f"--records {records}: no such folder (e.g. docs/studies/records)")
    # The checkout's state before this command writes anything: a study collected into a committed folder must not
    # call its own fresh output "uncommitted changes" (the revision is cached for the report's header).
    source_revision()
    names = study_names_for(name, data, recipe)
    plans = [make_plan(n, size, seeds, data, recipe, fp32, quiet=name == "all") for n in names]
    for plan in plans:
        plan.records = Path(records).resolve() if records is not None else None
    root = Path(out) if out is not None else Path("studies")
    if name != "all":
        folders = {name: root if out is not None else root / runner.folder_name(name, size, recipe, plans[0].fp32)}
    else:
        folders = {plan.study: root / runner.folder_name(plan.study, size, recipe, plan.fp32) for plan in plans}
    if mode in ("run", "plan"):
        for plan in plans:
            prepare(plan)
    if mode == "status":
        for plan in plans:
            runner.print_status(plan, folders[plan.study])
        return None
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
            say(f"{plan.study}: {len(plan.runs)} runs ({done} finished) in {path}")
            print(submit)
        return None
    sections = []
    for plan in plans:
        study_dir = folders[plan.study]
        study_dir.mkdir(parents=True, exist_ok=True)
        module = load_study(plan.study)
        if mode == "run":
            warning = bf16_warning(plan, runner.missing(plan, study_dir))
            if warning:
                say(f"wganlab study {plan.study}: {warning}")
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


def prepare(plan: Plan) -> None:
    """What the study's runs read, made before any of them starts (its optional `prepare`, e.g. a dataset built
    into the user cache), so that the printed commands and the cluster scripts find it too."""
    hook = getattr(load_study(plan.study), "prepare", None)
    if hook is not None:
        hook(plan)


def collect(plan: Plan, study_dir: Path, module: ModuleType) -> Section:
    """The study's report from its run folders; StudyError naming what is missing when runs are unfinished."""
    missing = runner.missing(plan, study_dir)
    if missing:
        flags = " ".join(runner.size_flags(plan.size, plan.seeds, plan.recipe, plan.fp32))
        where = f" in {plan.records}" if plan.records is not None else ""
        raise StudyError(
            f"{len(missing)} of {len(plan.runs)} runs of {plan.study} are not finished{where} (first: "
            f"{missing[0].key}); "
            f"run `wganlab study {plan.study} {flags}` (or the commands of --plan) first"
        )
    started = time.perf_counter()
    section = module.collect(plan, study_dir)
    name_recipe(section, module, plan.recipe)
    name_precision(section, plan)
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
    say(f"study {plan.study}: {len(plan.runs)} runs, {run_seconds / 3600:.2f} h of run time -> "
          f"{study_dir / 'report.md'}")  # fmt: skip
    return section


def name_precision(section: Section, plan: Plan) -> None:
    """A report whose runs did not all train in plain fp32 says in its setup which trained how (nothing is added
    when every run is fp32, as every report made before the fast path existed)."""
    from wganlab.studies.common import style

    groups: dict[tuple[str, bool], list[str]] = {}
    for run in plan.runs:
        if run.task or not run.preset:
            continue
        train = run.config().train
        groups.setdefault((train.precision, train.channels_last), []).append(dict(run.labels).get("objective", ""))
    if set(groups) <= {("fp32", False)}:
        if plan.fp32:
            section.setup.append(
                "Runs trained in fp32 (`--fp32`): the GAN and WGAN-GP runs, which new run pools train on the fast "
                "path (bf16 autocast with channels-last layout), trained in fp32 in a pool of their own "
                f"(`{plan.runs_dir}`), as on a CPU without bf16 instructions (docs/running-studies.md)."
            )
        return
    parts = []
    for (precision, channels_last), objectives in groups.items():
        what = "fp32" if precision == "fp32" else f"{precision} autocast"
        what += " with channels-last layout" if channels_last else ""
        names = ", ".join(style.title(o) for o in dict.fromkeys(objectives) if o)
        parts.append(f"in {what}" + (f" ({names})" if names else ""))
    section.setup.append(
        "Runs trained " + " and ".join(parts) + ". New run pools use the fast path (bf16 autocast with channels-last "
        "layout) for the objectives at which the precision study found quality parity with fp32 (GAN, WGAN-GP), fp32 "
        "for the others (docs/running-studies.md)."
    )


def name_recipe(section: Section, module: ModuleType, recipe: str) -> None:
    """A report of a seed recipe names it in its title and in every table's title, and says in its setup where
    in the seed each setting stands (the published reports, made before recipes existed, keep their titles: their
    setup text names the published recipes)."""
    seed = recipes.seed_recipe(module, recipe)
    if seed is None:
        return
    section.title = f"{section.title}, with {seed.title}"
    for table in section.tables:
        table.title = f"{table.title} ({seed.title})"
    if not any(seed.source in line for line in section.setup):
        section.setup = [f"Recipes: {seed.source}.", *section.setup]


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


def run_task(
    name: str,
    key: str,
    *,
    size: str,
    seeds: int | None,
    out: Path | None,
    recipe: str = "published",
    fp32: bool = False,
) -> Path:
    """`wganlab study NAME --task KEY`: one of a study's own runs (what the runner's subprocesses call)."""
    plan = make_plan(name, size, seeds, recipe=recipe, fp32=fp32)
    study_dir = Path(out) if out is not None else Path("studies") / runner.folder_name(name, size, recipe, plan.fp32)
    matches = [run for run in plan.runs if run.key == key and run.task]
    if not matches:
        raise ConfigError(f"study {name} has no task {key!r} at size {size} (see `wganlab study {name} --plan`)")
    folder = plan.folder(study_dir, matches[0])
    perform_task(plan, matches[0], folder)
    return folder


def run_one(
    name: str,
    key: str,
    *,
    size: str,
    seeds: int | None,
    out: Path | None,
    data: str | None = None,
    recipe: str = "published",
    fp32: bool = False,
) -> list[str] | None:
    """`wganlab study NAME --run KEY`, what the cluster scripts call: the run's folder decides, when it starts,
    what is left to do. A finished run: nothing (None). A task: done here (None). A training run: the `wganlab`
    arguments that train it, with --resume when it holds a checkpoint (the CLI runs them in this process)."""
    plan = make_plan(name, size, seeds, data, recipe, fp32)
    study_dir = Path(out) if out is not None else Path("studies") / runner.folder_name(name, size, recipe, plan.fp32)
    run = next((run for run in plan.runs if run.key == key), None)
    if run is None:
        raise ConfigError(f"study {name} has no run {key!r} at size {size} (see `wganlab study {name} --plan`)")
    current = runner.state(plan, run, study_dir)
    folder = plan.folder(study_dir, run)
    if current == "done":
        say(f"{name} {key}: finished already ({folder}); nothing to do")
        return None
    if run.task:
        perform_task(plan, run, folder)
        return None
    prepare(plan)
    folder.mkdir(parents=True, exist_ok=True)
    return runner.run_argv(plan, run, study_dir, current)[1:]  # without the leading "wganlab"
