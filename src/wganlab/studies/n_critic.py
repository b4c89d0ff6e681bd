"""Critic updates per generator update (seed 003: n_critic 1, 2 and 4 for WGAN, "no obvious difference, perhaps
4 slightly better"; 5 is the WGAN and WGAN-GP papers' value): n_critic in {1, 2, 4, 5} for WGAN and WGAN-GP,
quality against generator steps and against wall-clock time, final FID and recall."""

import dataclasses
import json
from pathlib import Path

from wganlab.studies.common import images, style
from wganlab.studies.common.report import Figure, Section, Table, fmt, save_figure, write_csv
from wganlab.studies.common.runner import Plan
from wganlab.training.run_folder import RunFolder

COMPUTE = "tflop"  # training compute by each evaluation: matmul and convolution TFLOP (images.step_flops)

NAME = "n-critic"
KIND = "image"
TAKES_DATA = True
SEED_RECIPE = "seed003"  # --recipe seed: seed 003 compared n_critic 1, 2 and 4 at its own settings
VALUES = (1, 2, 4, 5)
SEED_VALUES = (1, 2, 4)  # seed 003: "train D once/twice/4 times"


def cells(recipe: str | None = None) -> list[images.Cell]:
    """Per objective, one cell per n_critic: the published recipes' 5 is their plain cell; seed 003 names no
    n_critic of its own, so under its recipe every value is a variant."""
    if recipe is not None:
        return [images.Cell("dcgan-bn", "none", objective, f"ncritic-{n}", (f"objective.n_critic={n}",))
                for objective in ("wgan", "wgan-gp") for n in SEED_VALUES]  # fmt: skip
    return [
        images.Cell(
            "dcgan-bn",
            "none",
            objective,
            "" if n == 5 else f"ncritic-{n}",
            () if n == 5 else (f"objective.n_critic={n}",),
        )
        for objective in ("wgan", "wgan-gp")
        for n in VALUES
    ]


CELLS = cells()


def n_critic(cell: images.Cell) -> int:
    return int(cell.variant.split("-")[1]) if cell.variant else 5


def plan(size: str, seeds: int | None, data: str | None = None, recipe: str = "published") -> Plan:
    images.check_data(data)
    seed = SEED_RECIPE if recipe == "seed" else None
    settings = images.size_settings(size, seeds, data, seed)
    # The cost grows with the critic updates per step (the recipes' 5 make the base cost).
    runs = [
        dataclasses.replace(run, cost=run.cost * (n_critic(cell_of(run)) + 1) / 6)
        for run in images.cell_runs(cells(seed), settings)
    ]
    return Plan(NAME, size, settings["seeds"], runs, settings, runs_dir=images.runs_dir(size, settings))


def cell_of(run) -> images.Cell:
    return images.Cell("dcgan-bn", "none", run.label("objective"), run.label("variant"))


def plan_cells(plan: Plan) -> list[images.Cell]:
    recipe = plan.settings.get("recipe", "published")
    return cells(None if recipe == "published" else recipe)


summary = images.run_summary  # the line printed as each run finishes


def collect(plan: Plan, study_dir: Path) -> Section:
    cells_ = plan_cells(plan)
    quality, curves, rows, table = images.collect_cells(
        plan, study_dir, cells_, lambda c: f"{style.title(c.objective)}, n_critic {n_critic(c)}"
    )
    flops = add_compute(plan, curves)
    write_csv(study_dir / "curves.csv", curves)  # again, with the compute column
    figure = plot(plan, study_dir, curves, quality, cells_)
    equal = equal_time_tables(plan, curves, quality, cells_)
    findings = [
        f"Lowest mean final {images.headline_title(plan.settings)} after {images.length_text(plan.runs[0].config())}: "
        + "; ".join(
            f"{style.title(o)} with " + images.ranking_text(groups(rows, o, quality, cells_))
            for o in ("wgan", "wgan-gp")
        )
        + ".",
        images.equal_time_text(
            {title: t.rows for title, t in equal.items()},
            images.headline_title(plan.settings),
            "tables 2 and 3",
            "training compute (TFLOP of matrix products and convolutions)",
            "TFLOP",
        ),
        hosts_text(plan, study_dir),
        images.load_text(curves),
    ]
    return Section(
        name=NAME,
        title="How many critic updates per generator update? (seed 003)",
        findings=[f for f in findings if f],
        figures=[
            Figure(
                figure,
                f"{images.headline_title(plan.settings)} against generator steps (top) and against training "
                "compute, TFLOP of matrix products and convolutions (bottom); line: mean over seeds, band: min to "
                "max." + style.band_note(curves),
            )
        ],
        tables=[
            images.final_values(plan, "setting", table),
            *equal.values(),
        ],  # fmt: skip
        setup=[
            images.recipe_text(plan, "")
            + (
                "WGAN (RMSProp 5e-5, c = 0.01) and WGAN-GP (Adam 1e-4 β (0, 0.9), λ = 10) with n_critic 1, 2, 4 "
                "and 5 on "
                if plan.settings.get("recipe", "published") == "published"
                else " WGAN and WGAN-GP with n_critic " + ", ".join(str(n) for n in SEED_VALUES) + " on "
            )
            + "the DCGAN generator with batch norm and the DCGAN critic without normalisation; everything else as in "
            f"the other image studies (runs shared through `{plan.runs_dir}`).",
            "Training compute: the generator steps and the critic updates made by each evaluation times the "
            "FLOPs of one update (matrix products and convolutions, backward and the penalty's double backward "
            "included, counted with torch's FlopCounterMode on the runs' own networks and batch): critic update "
            + ", ".join(f"{style.title(o)} {fmt(c / 1e9)} GFLOP" for o, (c, _) in flops.items())
            + f", generator update {fmt(next(iter(flops.values()))[1] / 1e9)} GFLOP. It is the same on any "
            "machine, which wall-clock is not (the runs ran one thread each, two at once; a finding names the hosts "
            "when they differ); seconds per step are in table 1.",
        ],
    )


def groups(rows: list[dict], objective: str, quality: str, cells_: list[images.Cell]) -> dict[str, list[float]]:
    """The objective's final values per setting, by seed."""
    values = {}
    for cell in (c for c in cells_ if c.objective == objective):
        values[f"n_critic {n_critic(cell)}"] = [r[quality] for r in images.of_cell(rows, cell)]
    return values


def equal_time_tables(plan: Plan, curves: list[dict], quality: str, cells_: list[images.Cell]) -> dict[str, Table]:
    """Per objective (by title): its settings at the training compute each setting's runs ended with."""
    tables = {}
    for objective in ("wgan", "wgan-gp"):
        cells = [c for c in cells_ if c.objective == objective]
        tables[style.title(objective)] = Table(
            f"{style.title(objective)}: {images.headline_title(plan.settings)} at equal training compute (TFLOP "
            "of matrix products and convolutions), at the compute each setting's runs ended with: each run's last "
            'evaluation by then, mean ± std over seeds; "ended": that setting\'s runs had stopped earlier',
            ["TFLOP", *(f"n_critic {n_critic(c)}" for c in cells), "lowest"],
            images.equal_time_rows(curves, cells, quality, lambda c: f"n_critic {n_critic(c)}", COMPUTE),
            "curves.csv",
        )
    return tables


def add_compute(plan: Plan, curves: list[dict]) -> dict[str, tuple[int, int]]:
    """Each evaluation's training compute so far (COMPUTE, in TFLOP) from its step, the objective's critic
    schedule and the FLOPs of one update (counted once per objective); returns those counts."""
    flops, schedules = {}, {}
    for run in plan.runs:
        objective = run.label("objective")
        if objective not in flops:
            flops[objective] = images.step_flops(run)
        schedules[(objective, run.label("variant"))] = run.config().objective
    through: dict[tuple, list[int]] = {}  # per schedule: critic updates before each step, counted once
    for key, objective in schedules.items():
        last = max((row["step"] for row in curves if (row["objective"], row["variant"]) == key), default=0)
        through[key] = images.critic_updates_through(objective, last)
    for row in curves:
        critic, generator = flops[row["objective"]]
        updates = through[(row["objective"], row["variant"])][row["step"]]
        row[COMPUTE] = (updates * critic + row["step"] * generator) / 1e12
    return flops


def hosts_text(plan: Plan, study_dir: Path) -> str:
    """Which settings trained on which kind of host (the vector instructions ATen used, from each run's
    run.json, written at its last start; runs made before that was recorded say so), with their seconds per
    generator step: why the study compares settings at equal compute rather than equal wall-clock."""
    hosts: dict[str, dict[str, list[float]]] = {}
    for run in plan.runs:
        folder = RunFolder(plan.folder(study_dir, run))
        facts = json.loads(folder.facts_path.read_text()) if folder.facts_path.exists() else {}
        capability = facts.get("cpu_capability", "not recorded")
        setting = f"{style.title(run.label('objective'))} n_critic {n_critic(cell_of(run))}"
        speed = (folder.outcome() or {}).get("sec_per_step", float("nan"))
        hosts.setdefault(capability, {}).setdefault(setting, []).append(speed)
    if len(hosts) < 2:
        return ""
    parts = [
        f"{'a host that did not record its vector instructions' if cap == 'not recorded' else cap + ' hosts'}: "
        + ", ".join(f"{setting} ({fmt(sum(s) / len(s))} s per step)" for setting, s in settings.items())
        for cap, settings in sorted(hosts.items())
    ]
    return (
        "The runs trained on more than one kind of host (ATen's CPU capability, from each run's run.json): "
        + "; ".join(parts)
        + ". Their wall-clocks do not compare across hosts, so the settings are compared at equal training compute."
    )


def plot(plan: Plan, study_dir: Path, curves: list[dict], quality: str, cells_: list[images.Cell]) -> Path:
    with style.rc():
        figure, axes = style.figure(2, 2, width=12, height=8, sharey=True)
        for col, objective in enumerate(("wgan", "wgan-gp")):
            for index, cell in enumerate(c for c in cells_ if c.objective == objective):
                rows = images.of_cell(curves, cell)
                colour = style.colour(objective) if n_critic(cell) == 5 else style.EXTRA_COLOURS[index]
                for row, x in enumerate(("step", COMPUTE)):
                    images.plot_lines(axes[row, col], rows, x, quality, colour, f"n_critic {n_critic(cell)}")
            axes[0, col].set(
                title=style.title(objective), xlabel="generator step", ylabel=images.headline_title(plan.settings)
            )
            axes[1, col].set(
                xlabel="training compute (TFLOP, matrix products and convolutions)",
                ylabel=images.headline_title(plan.settings),
            )
            for axis in axes[:, col]:
                axis.set_yscale("log")
                style.plain_log_ticks(axis, "y")
                axis.legend(loc="upper right")
        return save_figure(figure, study_dir, "quality")
