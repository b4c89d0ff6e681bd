"""The clipping bound (seed 000 needed c = 0.005 on CelebA instead of the paper's 0.01; seed 002 Fig. 3 shows
clipped weights piled at the bound): WGAN with c in {0.001, 0.005, 0.01, 0.05, 0.1} on images, quality over
training, the share of critic weights sitting at +-c and the critic's input-gradient norm (its Lipschitz
constant, roughly) at every evaluation."""

from pathlib import Path

from wganlab.studies.common import images, style
from wganlab.studies.common.report import Figure, Section, fmt, mean_std, save_figure
from wganlab.studies.common.runner import Plan

NAME = "clip-sweep"
KIND = "image"
TAKES_DATA = True
SEED_RECIPE = "seed000"  # --recipe seed: seed 000 needed c = 0.005 (sec. I), at lr 5e-4
VALUES = (0.001, 0.005, 0.01, 0.05, 0.1)


def recipe_clip(recipe: str | None) -> float:
    """The clipping bound of the recipe the cells vary from: the published 0.01, or seed 000's 0.005."""
    return 0.01 if recipe is None else 0.005


def cells(recipe: str | None = None) -> list[images.Cell]:
    """One WGAN cell per c; the recipe's own c is its plain WGAN cell (shared with the other studies of that
    recipe), every other c a variant of it."""
    base = recipe_clip(recipe)
    return [
        images.Cell(
            "dcgan-bn",
            "none",
            "wgan",
            "" if c == base else f"clip-{c:g}",
            () if c == base else (f"objective.clip_value={c}",),
        )  # fmt: skip
        for c in VALUES
    ]


CELLS = cells()


def plan_cells(plan: Plan) -> list[images.Cell]:
    recipe = plan.settings.get("recipe", "published")
    return cells(None if recipe == "published" else recipe)


def clip(cell: images.Cell, base: float = 0.01) -> float:
    return float(cell.variant.split("-")[1]) if cell.variant else base


def plan(size: str, seeds: int | None, data: str | None = None, recipe: str = "published") -> Plan:
    seed = SEED_RECIPE if recipe == "seed" else None
    return images.cell_plan(NAME, cells(seed), size, seeds, data, seed)


summary = images.run_summary  # the line printed as each run finishes


def collect(plan: Plan, study_dir: Path) -> Section:
    cells_ = plan_cells(plan)
    base = recipe_clip(None if plan.settings.get("recipe", "published") == "published" else SEED_RECIPE)

    quality, curves, rows, table = images.collect_cells(plan, study_dir, cells_, lambda c: f"c = {clip(c, base):g}")
    # Each run's last evaluation: under a stop rule (`--scale long`) the runs end at different steps.
    last = {cell: [runs[-1] for runs in images.seed_curves(curves, cell)] for cell in cells_}
    for row, cell in zip(table, cells_, strict=True):
        row.insert(4, mean_std([100 * r["clip_share"] for r in last[cell]]) + " %")
        row.insert(5, mean_std([r["critic_grad_norm"] for r in last[cell]]))
    references = images.fd_references(plan.settings) if plan.settings["fashion_mnist"] else {}
    finals = {f"c = {clip(c, base):g}": [r[quality] for r in images.of_cell(rows, c)] for c in cells_}
    failures = ""
    if references:
        threshold = references["threshold"]
        failures = (
            f"Runs whose final {images.headline_title(plan.settings)} is above the failure threshold, "
            f"{fmt(threshold)} (the ten class-mean images; see the batchnorm study): "
            + ", ".join(
                f"{name} {sum(v > threshold for v in values)} of {len(values)}" for name, values in finals.items()
            )
            + "."
        )
    findings = [
        f"Lowest mean final {images.headline_title(plan.settings)} after {images.length_text(plan.runs[0].config())}: "
        + images.ranking_text(finals)
        + ".",
        failures,
        "At the last evaluation, the share of critic weights at ±c and the critic's mean input-gradient norm: "
        + "; ".join(
            f"c = {clip(c, base):g}: {fmt(float(sum(r['clip_share'] for r in last[c]) / len(last[c])) * 100, 2)} %, "
            f"{fmt(float(sum(r['critic_grad_norm'] for r in last[c]) / len(last[c])))}"
            for c in cells_
        )
        + ". A gradient norm far below 1 means a critic whose W estimate is W scaled down by that factor.",
    ]
    return Section(
        name=NAME,
        title="The clipping bound c (seeds 000 and 002)",
        findings=[f for f in findings if f],
        figures=[
            Figure(
                plot(plan, study_dir, curves, quality, cells_, base),
                f"Per c: {images.headline_title(plan.settings)}, the "
                "share of critic weights at ±c and the critic's mean input-gradient norm on points between "
                "held-out real images and fakes, over training (mean over seeds, band: min to max)."
                + style.band_note(curves),
            )
        ],  # fmt: skip
        tables=[images.final_values(plan, "clip c", table, extra=("weights at ±c", "‖∇x f‖"))],
        setup=[
            images.recipe_text(plan, "")
            + ("WGAN (RMSProp 5e-5, n_critic 5)" if base == 0.01 else " WGAN")
            + " with every critic parameter clipped to [−c, c] after every critic update, c in "
            + ", ".join(f"{c:g}" for c in VALUES)
            + "; DCGAN generator with batch norm, DCGAN critic "
            f"without normalisation; runs shared through `{plan.runs_dir}`.",
            "Weights at ±c: parameters whose absolute value equals c's float32 value exactly. ‖∇x f‖: the mean over "
            "points between held-out test images and fresh fakes (one uniform mix per pair), as the penalty measures.",
        ],
    )


def plot(plan: Plan, study_dir: Path, curves: list[dict], quality: str, cells_: list[images.Cell], base: float) -> Path:
    with style.rc():
        figure, axes = style.figure(1, 3, width=16, height=4.2)
        # One colour per c, in the order of c (a sequential map: five values, none alike); the published one named.
        colours = style.ordered_colours(len(cells_))
        for cell, colour in zip(sorted(cells_, key=lambda c: clip(c, base)), colours, strict=True):
            rows = images.of_cell(curves, cell)
            named = " (published)" if base == 0.01 else " (seed 000)"
            name = f"c = {clip(cell, base):g}" + (named if clip(cell, base) == base else "")
            for axis, key in zip(axes[0], (quality, "clip_share", "critic_grad_norm"), strict=True):
                images.plot_lines(axis, rows, "step", key, colour, name)
        axes[0, 0].set(ylabel=images.headline_title(plan.settings), yscale="log")
        style.plain_log_ticks(axes[0, 0], "y")
        axes[0, 1].set(ylabel="share of critic weights at ±c")
        axes[0, 2].set(ylabel="mean ‖∇x f‖ (log)", yscale="log")
        for axis in axes[0]:
            axis.set_xlabel("generator step")
        axes[0, 2].legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
        return save_figure(figure, study_dir, "clip_sweep")
