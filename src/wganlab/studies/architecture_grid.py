"""Architectures x objectives (seed 002 Fig. 7, Table 2, sec. 5.1-5.2): {DCGAN generator with batch norm,
DCGAN generator without, MLP} x {GAN, WGAN, WGAN-GP}, critics without normalisation (seed 002's DCGAN and MLP
discriminators), z = 128.

Reported: a 3 x 3 grid of samples at equal generator steps, TF-Inception FID, KID, precision and recall at the
end (recall is the mode-collapse measure: a collapsed generator covers little of the real data), the wall time
per run and per generator step (seed 002's Table 2), and the critics' estimates over training (its Fig. 6).
"""

import math
from pathlib import Path

import numpy as np

from wganlab.objectives import estimate_name
from wganlab.studies.common import images, style
from wganlab.studies.common.report import Figure, Section, Table, fmt, mean_std, save_figure, write_csv
from wganlab.studies.common.runner import Plan
from wganlab.training.run_folder import RunFolder
from wganlab.training.samples import image_grid

NAME = "architecture-grid"
KIND = "image"
TAKES_DATA = True
SEED_RECIPE = "seed002"  # --recipe seed: seed 002 made the claim (Fig. 7, Table 2)
GENERATORS = ("dcgan-bn", "dcgan", "mlp")
CELLS = [images.Cell(generator, "none", objective) for generator in GENERATORS for objective in images.OBJECTIVES]


def plan(size: str, seeds: int | None, data: str | None = None, recipe: str = "published") -> Plan:
    return images.cell_plan(NAME, CELLS, size, seeds, data, SEED_RECIPE if recipe == "seed" else None)


summary = images.run_summary  # the line printed as each run finishes


def collect(plan: Plan, study_dir: Path) -> Section:
    quality = images.headline(plan.settings)
    # Seed 002's Table 2 times 1000 epochs: an epoch is one pass of the critic over the training images, whose
    # number run.json records (runs from before it did: Fashion-MNIST's, or unknown).
    default_epoch = images.FASHION_MNIST_TRAIN if plan.settings["fashion_mnist"] else math.nan
    rows, curves = [], []
    for run in plan.runs:
        folder = RunFolder(plan.folder(study_dir, run))
        epoch = folder.read_facts().get("training_images") or default_epoch
        outcome = folder.outcome() or {}
        final = images.final_record(folder.path)
        evals, train = folder.records("eval"), folder.records("train")
        name = estimate_name(run.label("objective"))
        train_seconds = outcome.get("train_seconds", math.nan)
        epochs = train[-1]["images_seen"] / epoch if train else math.nan
        for r in train:
            curves.append({**dict(run.labels), "step": r["step"], "estimate": r[name]})
        rows.append({
            **dict(run.labels), "status": outcome.get("status", "unknown"),
            quality: evals[-1][quality] if evals else math.nan,
            **{k: final.get(k, math.nan) for k in ("fid", "kid_mean", "precision", "recall")},
            "run_seconds": outcome.get("seconds", math.nan), "train_seconds": train_seconds,
            "sec_per_step": outcome.get("sec_per_step", math.nan), "sec_per_epoch": train_seconds / epochs,
        })  # fmt: skip
    write_csv(study_dir / "runs.csv", rows)
    write_csv(study_dir / "estimates.csv", curves)
    figures = [
        Figure(plot_grid(plan, study_dir), "Final samples of seed 0 (rows: generator, columns: objective), all at "
               "the same generator step and from the same z (seed 002 Fig. 7)."),
        Figure(plot_estimates(plan, study_dir, curves), "The critic's estimate on training batches over training "
               "(JS for the GAN, W for WGAN and WGAN-GP; seed 002 Fig. 6); line: mean over seeds, band: min to max."
               + style.band_note(curves)),
    ]  # fmt: skip
    return section(plan, rows, figures, quality)


def plot_grid(plan: Plan, study_dir: Path) -> Path:
    with style.rc():
        figure, axes = style.figure(len(GENERATORS), len(images.OBJECTIVES), width=11, height=11)
        for row, generator in enumerate(GENERATORS):
            for col, objective in enumerate(images.OBJECTIVES):
                run = plan.find(generator=generator, objective=objective, seed=0)[0]
                step, samples = images.sample_grid(plan.folder(study_dir, run), 36)
                grid = image_grid(samples, columns=6)
                axis = axes[row, col]
                axis.imshow(grid[:, :, 0] if grid.shape[2] == 1 else grid, cmap="gray", vmin=0, vmax=255)
                axis.set_title(f"G {images.GENERATORS[generator]}, {style.title(objective)} (step {step:,})",
                               color=style.colour(objective))  # fmt: skip
                axis.axis("off")
        return save_figure(figure, study_dir, "grid")


def plot_estimates(plan: Plan, study_dir: Path, curves: list[dict]) -> Path:
    with style.rc():
        figure, axes = style.figure(1, len(images.OBJECTIVES), width=15, height=4.0)
        for col, objective in enumerate(images.OBJECTIVES):
            axis = axes[0, col]
            for index, generator in enumerate(GENERATORS):
                rows = [r for r in curves if r["objective"] == objective and r["generator"] == generator]
                steps = sorted({r["step"] for r in rows})
                values = style.by_step(rows, "estimate", steps)
                colour = style.EXTRA_COLOURS[index]
                axis.plot(steps, np.nanmean(values, axis=1), color=colour, label=f"G {images.GENERATORS[generator]}")
                axis.fill_between(
                    steps, np.nanmin(values, axis=1), np.nanmax(values, axis=1), color=colour, alpha=0.15, lw=0
                )
            axis.set(title=style.title(objective), xlabel="generator step", ylabel=estimate_name(objective))
            axis.legend(loc="best")
        return save_figure(figure, study_dir, "estimates")


def section(plan: Plan, rows: list[dict], figures, quality: str) -> Section:
    table = []
    for cell in CELLS:
        group = [r for r in rows if (r["generator"], r["objective"]) == (cell.generator, cell.objective)]
        table.append([
            images.GENERATORS[cell.generator], style.title(cell.objective), mean_std([r[quality] for r in group]),
            mean_std([r["fid"] for r in group]), mean_std([r["kid_mean"] for r in group]),
            mean_std([r["precision"] for r in group]), mean_std([r["recall"] for r in group]),
            mean_std([r["run_seconds"] / 60 for r in group]), mean_std([r["sec_per_step"] for r in group]),
            mean_std([r["sec_per_epoch"] for r in group]),
        ])  # fmt: skip

    def mean_fid(generator: str, objective: str) -> float:
        return float(np.mean([r["fid"] for r in rows if (r["generator"], r["objective"]) == (generator, objective)]))

    best = {g: min(images.OBJECTIVES, key=lambda o: mean_fid(g, o)) for g in GENERATORS}
    recall = {o: float(np.mean([r["recall"] for r in rows if r["objective"] == o])) for o in images.OBJECTIVES}
    findings = [
        "Lowest mean final FID per generator: "
        + ", ".join(f"{images.GENERATORS[g]}: {style.title(o)}" for g, o in best.items())
        + ".",
        "Mean recall over the three architectures (low recall = mode collapse): "
        + ", ".join(f"{style.title(o)} {fmt(v)}" for o, v in recall.items())
        + ".",
    ]
    config = plan.runs[0].config()
    return Section(
        name=NAME,
        title="Architectures x objectives (seed 002 Fig. 7, Table 2)",
        findings=findings,
        figures=figures,
        tables=[
            Table(
                f"Final quality and cost per cell (mean ± std over {plan.seeds} seeds; FID, KID, precision and "
                f"recall of {plan.settings['final_samples']:,} samples against the test images)",
                [
                    "generator",
                    "objective",
                    images.headline_title(plan.settings),
                    "FID",
                    "KID",
                    "precision",
                    "recall",
                    "minutes / run",
                    "s / generator step",
                    "s / epoch",
                ],
                table,
                "runs.csv",
            )
        ],  # fmt: skip
        setup=[
            f"Generators: DCGAN with and without batch norm ({config.model.channels} base channels), MLP "
            "(seed 002's shape, scaled to the image size); critics: DCGAN or MLP (LeakyReLU 0.2), no "
            f"normalisation; z_dim {config.model.z_dim}, batch {config.train.batch_size}, "
            f"{images.length_text(config)}, "
            + images.recipe_text(plan, "recipes as published (the `fashion_mnist/<objective>` presets)."),
            "Times are wall-clock of the runs as the study ran them (one thread each, two runs at once on two "
            "cores); they include evaluations. The per-step and per-epoch columns are training alone "
            "(timing.jsonl); an epoch is one pass of the critic over the training images (seed 002's unit), "
            "counted from the images each run's critic saw.",
            f"Runs are shared with the other image studies (`{plan.runs_dir}`).",
        ],
    )
