"""Stability without batch norm (seed 000 Fig. 2 and its Discussion; seed 002 sec. 5.2: "the effect of batch
normalization is not very obvious in our experiment").

A DCGAN generator with and without batch norm, crossed with the critic normalisation each objective can use:
GAN batch norm or none, WGAN none (weight clipping and batch norm do not mix in the paper), WGAN-GP layer norm
or none (the penalty is per sample, so no batch norm). A run fails when it diverges or when its final quality
is worse than a threshold fixed from real data before any run (see `images.fd_references`).
"""

import math
from pathlib import Path

import numpy as np

from wganlab.studies.common import images, style
from wganlab.studies.common.report import Figure, Section, Table, fmt, mean_std, save_figure, write_csv, write_json
from wganlab.studies.common.runner import Plan
from wganlab.training.run_folder import RunFolder
from wganlab.training.samples import image_grid

NAME = "batchnorm"
KIND = "image"
TAKES_DATA = True
SEED_RECIPE = "seed000"  # --recipe seed: seed 000 made the claim (Fig. 2, Discussion)
CELLS = [
    images.Cell("dcgan-bn", "batch", "gan"),
    images.Cell("dcgan-bn", "none", "gan"),
    images.Cell("dcgan", "batch", "gan"),
    images.Cell("dcgan", "none", "gan"),
    images.Cell("dcgan-bn", "none", "wgan"),
    images.Cell("dcgan", "none", "wgan"),
    images.Cell("dcgan-bn", "layer", "wgan-gp"),
    images.Cell("dcgan-bn", "none", "wgan-gp"),
    images.Cell("dcgan", "layer", "wgan-gp"),
    images.Cell("dcgan", "none", "wgan-gp"),
]


def plan(size: str, seeds: int | None, data: str | None = None, recipe: str = "published") -> Plan:
    return images.cell_plan(NAME, CELLS, size, seeds, data, SEED_RECIPE if recipe == "seed" else None)


summary = images.run_summary  # the line printed as each run finishes


def collect(plan: Plan, study_dir: Path) -> Section:
    quality = images.headline(plan.settings)
    references = images.fd_references(plan.settings) if plan.settings["fashion_mnist"] else {}
    threshold = references.get("threshold", math.inf)
    write_json(study_dir / "references.json", references)
    rows, curves = [], []
    for run in plan.runs:
        folder = RunFolder(plan.folder(study_dir, run))
        outcome = folder.outcome() or {}
        evals = folder.records("eval")
        for r in evals:
            curves.append({**dict(run.labels), "step": r["step"], quality: r[quality]})
        final = images.final_record(folder.path)
        last = evals[-1][quality] if evals else math.nan
        diverged = outcome.get("status") == "diverged"
        rows.append({**dict(run.labels), "status": outcome.get("status", "unknown"), "final_step": outcome.get("step"),
                     quality: last, "fid": final.get("fid", math.nan), "recall": final.get("recall", math.nan),
                     "precision": final.get("precision", math.nan),
                     "failed": bool(diverged or not last < threshold)})  # fmt: skip
    write_csv(study_dir / "runs.csv", rows)
    write_csv(study_dir / "curves.csv", curves)
    caption = (
        f"{images.headline_title(plan.settings)} over training for every cell (line: mean over seeds, band: min to "
        "max); dashed: the failure threshold."
    ) + style.band_note(curves)
    if "real_vs_real" in references:
        caption += (
            f" Real test vs real training images: {fmt(references['real_vs_real'])} (far below the plotted range)."
        )
    figures = [
        Figure(plot_curves(plan, study_dir, curves, quality, references), caption),
        Figure(plot_samples(plan, study_dir), "Final samples of seed 0 for every cell (the same z in every panel)."),
    ]
    return section(plan, rows, references, threshold, figures, quality)


def plot_curves(plan: Plan, study_dir: Path, curves: list[dict], quality: str, references: dict) -> Path:
    with style.rc():
        figure, axes = style.figure(1, len(images.OBJECTIVES), width=15, height=4.2, sharey=True)
        for col, objective in enumerate(images.OBJECTIVES):
            axis = axes[0, col]
            cells = [cell for cell in CELLS if cell.objective == objective]
            for index, cell in enumerate(cells):
                rows = images.of_cell(curves, cell)
                steps = sorted({r["step"] for r in rows})
                values = style.by_step(rows, quality, steps)
                colour = style.EXTRA_COLOURS[index] if index < 3 else style.colour(objective)
                label = f"G {images.GENERATORS[cell.generator]}, D {images.CRITICS[cell.critic]}"
                axis.plot(steps, np.nanmean(values, axis=1), color=colour, label=label)
                axis.fill_between(
                    steps, np.nanmin(values, axis=1), np.nanmax(values, axis=1), color=colour, alpha=0.15, lw=0
                )
            if "one_class" in references:
                axis.axhline(references["threshold"], color="black", ls="--", lw=1)
            axis.set_yscale("log")
            style.plain_log_ticks(axis, "y")
            axis.set(title=style.title(objective), xlabel="generator step",
                     ylabel=f"{images.headline_title(plan.settings)} (log)" if col == 0 else None)  # fmt: skip
            axis.legend(loc="lower left")
        # The curves' range only: the real-vs-real level (in the caption) lies two decades below and squashed them.
        low = min(r[quality] for r in curves if np.isfinite(r[quality]))
        axes[0, 0].set_ylim(bottom=low / 2)
        return save_figure(figure, study_dir, "quality_curves")


def plot_samples(plan: Plan, study_dir: Path) -> Path:
    with style.rc():
        figure, axes = style.figure(2, 5, width=15, height=6.6)
        for index, cell in enumerate(CELLS):
            axis = axes.flat[index]
            folder = plan.folder(study_dir, plan.find(generator=cell.generator, critic=cell.critic,
                                                      objective=cell.objective, seed=0)[0])  # fmt: skip
            step, samples = images.sample_grid(folder, 36)
            grid = image_grid(samples, columns=6)
            axis.imshow(grid[:, :, 0] if grid.shape[2] == 1 else grid, cmap="gray", vmin=0, vmax=255)
            axis.set_title(f"{cell.title}\nstep {step:,}", color=style.colour(cell.objective), fontsize=9)
            axis.axis("off")
        return save_figure(figure, study_dir, "samples")


def section(plan: Plan, rows: list[dict], references: dict, threshold: float, figures, quality: str) -> Section:
    table = []
    for cell in CELLS:
        group = images.of_cell(rows, cell)
        table.append([
            style.title(cell.objective), images.GENERATORS[cell.generator], images.CRITICS[cell.critic],
            mean_std([r[quality] for r in group]), mean_std([r["fid"] for r in group]),
            mean_std([r["recall"] for r in group]), f"{sum(r['failed'] for r in group)} of {len(group)}",
            str(sum(r["status"] == "diverged" for r in group)),
        ])  # fmt: skip
    failures = {o: sum(r["failed"] for r in rows if r["objective"] == o) for o in images.OBJECTIVES}
    totals = {o: sum(1 for r in rows if r["objective"] == o) for o in images.OBJECTIVES}
    no_bn = {
        o: [r[quality] for r in rows if r["objective"] == o and r["generator"] == "dcgan"] for o in images.OBJECTIVES
    }
    bn = {
        o: [r[quality] for r in rows if r["objective"] == o and r["generator"] == "dcgan-bn"] for o in images.OBJECTIVES
    }
    findings = [
        "Failed runs (diverged, or final quality worse than the threshold): "
        + ", ".join(f"{style.title(o)} {failures[o]} of {totals[o]}" for o in images.OBJECTIVES)
        + ".",
        "Mean final " + images.headline_title(plan.settings) + " with / without batch norm in the generator (over "
        "every critic variant and seed): "
        + ", ".join(
            f"{style.title(o)} {fmt(float(np.mean(bn[o])))} / {fmt(float(np.mean(no_bn[o])))}"
            for o in images.OBJECTIVES
        )
        + ".",
    ]
    if references:
        findings.append(
            f"References from real data alone: real test vs real training images {fmt(references['real_vs_real'])}; "
            f"the ten class-mean images {fmt(references['class_means'])}; uniform noise {fmt(references['noise'])}; "
            f"perfect images of one class only (median over classes) {fmt(references['one_class'])}. The failure "
            f"threshold is the least bad of these three, {fmt(threshold)}."
        )
    config = plan.runs[0].config()
    return Section(
        name=NAME,
        title="Stability without batch norm (seed 000 Fig. 2; seed 002 sec. 5.2)",
        findings=findings,
        figures=figures,
        tables=[
            Table(
                f"Final quality per cell (mean ± std over {plan.seeds} seeds), TF-Inception FID and recall of "
                f"{plan.settings['final_samples']:,} samples, failures",
                [
                    "objective",
                    "generator",
                    "critic",
                    images.headline_title(plan.settings),
                    "FID",
                    "recall",
                    "failed",
                    "diverged",
                ],
                table,
                "runs.csv",
            )
        ],  # fmt: skip
        setup=[
            "Cells: DCGAN generator with (DCGAN + BN) or without batch norm, crossed with each objective's critic "
            "options (GAN: batch norm or none; WGAN: none; WGAN-GP: layer norm or none).",
            f"Networks: {config.model.channels} base channels, z_dim {config.model.z_dim}, batch "
            f"{config.train.batch_size}, {images.length_text(config)}; "
            + images.recipe_text(plan, "recipes as published (the `fashion_mnist/<objective>` presets).")
            + " Runs are shared with the other image studies "
            f"(`{plan.runs_dir}`).",
            "Failure: the run diverged (its outcome.json), or its last evaluation is no better than the least bad of "
            "three known-bad generators made from real data before any run (the ten class-mean images, uniform "
            "noise, perfect images of one class; `references.json`).",
        ],
    )
