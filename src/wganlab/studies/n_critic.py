"""Critic updates per generator update (seed 003: n_critic 1, 2 and 4 for WGAN, "no obvious difference, perhaps
4 slightly better"; 5 is the WGAN and WGAN-GP papers' value): n_critic in {1, 2, 4, 5} for WGAN and WGAN-GP,
quality against generator steps and against wall-clock time, final FID and recall."""

import dataclasses
from pathlib import Path

from wganlab.studies.common import images, style
from wganlab.studies.common.report import Figure, Section, Table, save_figure
from wganlab.studies.common.runner import Plan

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
            {title: t.rows for title, t in equal.items()}, images.headline_title(plan.settings), "tables 2 and 3"
        ),
        images.load_text(curves),
    ]
    return Section(
        name=NAME,
        title="How many critic updates per generator update? (seed 003)",
        findings=[f for f in findings if f],
        figures=[
            Figure(
                figure,
                f"{images.headline_title(plan.settings)} against generator steps (top) and against "
                "training wall-clock, evaluations excluded (bottom); line: mean over seeds, band: min to max.",
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
            "Wall-clock is each run's own (timing.jsonl, training only); the runs ran one thread each, two at once.",
        ],
    )


def groups(rows: list[dict], objective: str, quality: str, cells_: list[images.Cell]) -> dict[str, list[float]]:
    """The objective's final values per setting, by seed."""
    values = {}
    for cell in (c for c in cells_ if c.objective == objective):
        values[f"n_critic {n_critic(cell)}"] = [r[quality] for r in images.of_cell(rows, cell)]
    return values


def equal_time_tables(plan: Plan, curves: list[dict], quality: str, cells_: list[images.Cell]) -> dict[str, Table]:
    """Per objective (by title): its settings at the training time each setting's runs ended."""
    tables = {}
    for objective in ("wgan", "wgan-gp"):
        cells = [c for c in cells_ if c.objective == objective]
        tables[style.title(objective)] = Table(
            f"{style.title(objective)}: {images.headline_title(plan.settings)} at equal training wall-clock "
            "(evaluations excluded), at the time each setting's shortest run ended: each run's last evaluation "
            'by then, mean ± std over seeds; "ended": that setting\'s runs had stopped earlier',
            ["seconds", *(f"n_critic {n_critic(c)}" for c in cells), "lowest"],
            images.equal_time_rows(curves, cells, quality, lambda c: f"n_critic {n_critic(c)}"),
            "curves.csv",
        )
    return tables


def plot(plan: Plan, study_dir: Path, curves: list[dict], quality: str, cells_: list[images.Cell]) -> Path:
    with style.rc():
        figure, axes = style.figure(2, 2, width=12, height=8, sharey=True)
        for col, objective in enumerate(("wgan", "wgan-gp")):
            for index, cell in enumerate(c for c in cells_ if c.objective == objective):
                rows = images.of_cell(curves, cell)
                colour = style.colour(objective) if n_critic(cell) == 5 else style.EXTRA_COLOURS[index]
                for row, x in enumerate(("step", "train_seconds")):
                    images.plot_lines(axes[row, col], rows, x, quality, colour, f"n_critic {n_critic(cell)}")
            axes[0, col].set(
                title=style.title(objective), xlabel="generator step", ylabel=images.headline_title(plan.settings)
            )
            axes[1, col].set(xlabel="training wall-clock (s)", ylabel=images.headline_title(plan.settings))
            for axis in axes[:, col]:
                axis.set_yscale("log")
                style.plain_log_ticks(axis, "y")
                axis.legend(loc="upper right")
        return save_figure(figure, study_dir, "quality")
