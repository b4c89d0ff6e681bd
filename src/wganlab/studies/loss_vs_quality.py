"""Does the loss track image quality? (Seed 000 Fig. 1, seed 002 Fig. 6; the WGAN paper's first claim: "a
meaningful loss metric that correlates with the generator's convergence and sample quality".)

GAN, WGAN and WGAN-GP with seed 002's networks (DCGAN generator with batch norm, DCGAN critic without), each
with its published recipe. At every evaluation a run logs its quality (FD in our Fashion-MNIST classifier's
features; TF-Inception FID with other data) and the critic's estimate (JS for the GAN, W for the others) on the
training batches (averaged over the interval) and on held-out test images; per run we take Spearman's and
Pearson's correlation between each estimate and the quality over training.
"""

import math
from pathlib import Path

import numpy as np
from scipy.stats import pearsonr, spearmanr

from wganlab.objectives import estimate_name
from wganlab.studies.common import images, style
from wganlab.studies.common.report import Figure, Section, Table, fmt, mean_std, save_figure, write_csv
from wganlab.studies.common.runner import Plan
from wganlab.training.run_folder import RunFolder
from wganlab.training.samples import image_grid

NAME = "loss-vs-quality"
KIND = "image"
TAKES_DATA = True
CELLS = [images.Cell("dcgan-bn", "none", objective) for objective in images.OBJECTIVES]


def plan(size: str, seeds: int | None, data: str | None = None) -> Plan:
    return images.cell_plan(NAME, CELLS, size, seeds, data)


summary = images.run_summary  # the line printed as each run finishes


def correlation(x: list[float], y: list[float]) -> tuple[float, float]:
    if len(x) < 3 or len(set(x)) < 2 or len(set(y)) < 2:
        return math.nan, math.nan
    return float(spearmanr(x, y).statistic), float(pearsonr(x, y).statistic)


def collect(plan: Plan, study_dir: Path) -> Section:
    quality = images.headline(plan.settings)
    rows, curves, finals = [], [], []
    for run in plan.runs:
        folder = RunFolder(plan.folder(study_dir, run))
        objective = run.label("objective")
        name = estimate_name(objective)
        train_at = {r["step"]: r[name] for r in folder.records("train")}
        evals = [r for r in folder.records("eval") if r["step"] in train_at]
        q = [r[quality] for r in evals]
        trained = [train_at[r["step"]] for r in evals]
        heldout = [r.get(f"heldout_{name}", math.nan) for r in evals]
        for r, t, h in zip(evals, trained, heldout, strict=True):
            curves.append({**dict(run.labels), "step": r["step"], quality: r[quality], "estimate": t, "heldout": h})
        spearman_t, pearson_t = correlation(trained, q)
        pairs = [(h, v) for h, v in zip(heldout, q, strict=True) if not math.isnan(h)]
        spearman_h, pearson_h = correlation([h for h, _ in pairs], [v for _, v in pairs])
        rows.append(
            {
                **dict(run.labels),
                "estimate": name,
                "points": len(evals),
                "spearman_train": spearman_t,
                "pearson_train": pearson_t,
                "spearman_heldout": spearman_h,
                "pearson_heldout": pearson_h,
            }
        )
        finals.append({**dict(run.labels), **{k: v for k, v in images.final_record(folder.path).items()
                                               if k not in ("step", "images_seen", "kind")}})  # fmt: skip
    write_csv(study_dir / "correlations.csv", rows)
    write_csv(study_dir / "curves.csv", curves)
    write_csv(study_dir / "final.csv", finals)
    figures = [
        Figure(plot_curves(plan, study_dir, curves, quality), "Per objective (columns): the quality measure (top, "
               f"{images.headline_title(plan.settings)}, lower is better) and the critic's estimate on training "
               "batches and on held-out test images (bottom) over training; line: mean over seeds, band: min to max."),
        Figure(plot_scatter(plan, curves, study_dir, quality), "Each run's estimate against its quality at the same "
               "steps, joined in time (square: first evaluation, black dot: last); one line per seed."),
        Figure(plot_samples(plan, study_dir), "Samples of seed 0 at a quarter, half, three quarters and the end of "
               "training (the same z in every panel)."),
    ]  # fmt: skip
    return section(plan, rows, finals, figures, quality)


def plot_curves(plan: Plan, study_dir: Path, curves: list[dict], quality: str) -> Path:
    with style.rc():
        figure, axes = style.figure(2, len(images.OBJECTIVES), width=4.4 * len(images.OBJECTIVES), height=6.4)
        for col, objective in enumerate(images.OBJECTIVES):
            rows = [r for r in curves if r["objective"] == objective]
            steps = sorted({r["step"] for r in rows})
            colour = style.colour(objective)
            for axis, keys in (
                (axes[0, col], ((quality, "-"),)),
                (axes[1, col], (("estimate", "-"), ("heldout", "--"))),
            ):
                for key, line in keys:
                    values = np.array([[r[key] for r in rows if r["step"] == s] for s in steps], dtype=float)
                    label = {"estimate": "training batches", "heldout": "held-out test images"}.get(key)
                    axis.plot(steps, np.nanmean(values, axis=1), line, color=colour, label=label)
                    axis.fill_between(steps, np.nanmin(values, axis=1), np.nanmax(values, axis=1), color=colour,
                                      alpha=0.15, lw=0)  # fmt: skip
            axes[0, col].set(
                title=style.title(objective), xlabel="generator step", ylabel=images.headline_title(plan.settings)
            )
            name = estimate_name(objective)
            axes[1, col].set(xlabel="generator step", ylabel=f"{name} (critic)")
            axes[1, col].legend(loc="best")
        return save_figure(figure, study_dir, "loss_and_quality")


def plot_scatter(plan: Plan, curves: list[dict], study_dir: Path, quality: str) -> Path:
    with style.rc():
        figure, axes = style.figure(1, len(images.OBJECTIVES), width=4.4 * len(images.OBJECTIVES), height=3.8)
        for col, objective in enumerate(images.OBJECTIVES):
            axis = axes[0, col]
            for seed in range(plan.seeds):
                rows = [r for r in curves if r["objective"] == objective and r["seed"] == seed]
                x, y = [r["estimate"] for r in rows], [r[quality] for r in rows]
                axis.plot(x, y, "o-", ms=2.5, lw=0.6, alpha=0.8, color=style.colour(objective))
                if x:
                    axis.plot(x[0], y[0], "s", ms=5, mfc="white", color=style.colour(objective))
                    axis.plot(x[-1], y[-1], "o", ms=6, color="black")
            axis.set(title=style.title(objective), xlabel=f"{estimate_name(objective)} (training batches)",
                     ylabel=images.headline_title(plan.settings) if col == 0 else None)  # fmt: skip
        return save_figure(figure, study_dir, "loss_vs_quality")


def plot_samples(plan: Plan, study_dir: Path) -> Path:
    with style.rc():
        figure, axes = style.figure(len(images.OBJECTIVES), 4, width=11, height=2.9 * len(images.OBJECTIVES))
        for row, objective in enumerate(images.OBJECTIVES):
            folder = plan.folder(study_dir, plan.find(objective=objective, seed=0)[0])
            steps = images.sample_steps(folder)[-4:]
            for col, step in enumerate(steps):
                _, samples = images.sample_grid(folder, 36, step)
                grid = image_grid(samples, columns=6)
                axes[row, col].imshow(grid[:, :, 0] if grid.shape[2] == 1 else grid, cmap="gray", vmin=0, vmax=255)
                axes[row, col].set_title(f"{style.title(objective)}, step {step:,}")
                axes[row, col].axis("off")
        return save_figure(figure, study_dir, "samples")


def section(plan: Plan, rows: list[dict], finals: list[dict], figures: list[Figure], quality: str) -> Section:
    table, means = [], {}
    for objective in images.OBJECTIVES:
        group = [r for r in rows if r["objective"] == objective]
        cells = []
        for key in ("spearman_train", "pearson_train", "spearman_heldout", "pearson_heldout"):
            values = [r[key] for r in group if not math.isnan(r[key])]
            cells.append(mean_std(values) if values else "n/a")
            means[objective, key] = float(np.mean(values)) if values else math.nan
        final = [f for f in finals if f["objective"] == objective]
        table.append([style.title(objective), estimate_name(objective), str(group[0]["points"]), *cells,
                      mean_std([f["fid"] for f in final]) if all("fid" in f for f in final) else "n/a"])  # fmt: skip
    summary_text = ", ".join(
        f"{style.title(o)} {fmt(means[o, 'spearman_train'], 2)} (held-out {fmt(means[o, 'spearman_heldout'], 2)})"
        for o in images.OBJECTIVES
    )
    findings = [
        "Mean Spearman correlation over training between each objective's estimate and "
        f"{images.headline_title(plan.settings)} ({rows[0]['points']} evaluations per run, {plan.seeds} seeds): "
        f"{summary_text}. A value near +1 means the "
        "estimate falls as the samples improve, as the WGAN paper claims for its W estimate.",
    ]
    config = plan.runs[0].config()
    s = plan.settings
    setup = [
        f"Data: {'Fashion-MNIST, 28 px padded with 2 black pixels to 32 px' if s['fashion_mnist'] else s['data']}; "
        f"networks: DCGAN generator with batch norm, DCGAN critic without normalisation (seed 002's Fig. 6 setting), "
        f"{config.model.channels} base channels, z_dim {config.model.z_dim}, batch {config.train.batch_size}.",
        "Recipes as published: GAN Adam 2e-4 β (0.5, 0.999), n_critic 1; WGAN RMSProp 5e-5, c = 0.01, n_critic 5; "
        "WGAN-GP Adam 1e-4 β (0, 0.9), λ = 10, n_critic 5 (the `fashion_mnist/<objective>` presets)."
        if not s["paper"]
        else "Seed 002's Table 1: batch 256, lr 2e-4, n_critic 1 / 4 / 4, 1000 epochs.",
        f"{images.length_text(config)}; {images.evaluation_text(config)} "
        f"{images.headline_title(plan.settings)} of {config.log.eval_samples:,} samples against the "
        "10,000 test images, and the critic's estimate on as many held-out test images (train mode, buffers "
        "restored); the training-batch estimate is the mean over the steps since the previous evaluation.",
        f"At the end: TF-Inception FID, KID and precision/recall of {config.log.final_samples:,} samples against the "
        "test images (FID is biased upwards at this sample size; compare it only within this report).",
        f"Runs live in `{plan.runs_dir}` (shared with the other image studies); `wganlab study {NAME} --plan` lists "
        "their commands.",
    ]
    return Section(
        name=NAME,
        title="Does the loss track image quality? (seed 000 Fig. 1, seed 002 Fig. 6)",
        findings=findings,
        figures=figures,
        tables=[
            Table(
                f"Correlation of the critic's estimate with {images.headline_title(plan.settings)} over training "
                f"(mean ± std over {plan.seeds} seeds) and the final TF-Inception FID",
                [
                    "objective",
                    "estimate",
                    "points",
                    "Spearman (train)",
                    "Pearson (train)",
                    "Spearman (held-out)",
                    "Pearson (held-out)",
                    f"FID ({plan.settings['final_samples']:,} samples)",
                ],
                table,
                "correlations.csv",
            )
        ],  # fmt: skip
        setup=setup,
    )
