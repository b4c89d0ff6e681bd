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
from wganlab.studies.common.runner import Plan, size_flags
from wganlab.training.run_folder import RunFolder
from wganlab.training.samples import image_grid

NAME = "loss-vs-quality"
KIND = "image"
TAKES_DATA = True
SEED_RECIPE = "seed000"  # --recipe seed: seed 000 made the claim (Fig. 1), with its own WGAN
CELLS = [images.Cell("dcgan-bn", "none", objective) for objective in images.OBJECTIVES]


def plan(size: str, seeds: int | None, data: str | None = None, recipe: str = "published") -> Plan:
    return images.cell_plan(NAME, CELLS, size, seeds, data, SEED_RECIPE if recipe == "seed" else None)


summary = images.run_summary  # the line printed as each run finishes


def correlation(x: list[float], y: list[float]) -> tuple[float, float]:
    if len(x) < 3 or len(set(x)) < 2 or len(set(y)) < 2:
        return math.nan, math.nan
    return float(spearmanr(x, y).statistic), float(pearsonr(x, y).statistic)


def change_correlation(x: list[float], y: list[float]) -> float:
    """Pearson correlation of the step-to-step changes of x and y: whether the estimate moves with the quality
    from one evaluation to the next, which a shared trend over training (both falling with time) cannot fake."""
    return correlation(list(np.diff(x)), list(np.diff(y)))[1] if len(x) >= 4 else math.nan


def late_change_correlation(x: list[float], y: list[float]) -> float:
    """change_correlation over the evaluations after the first quarter (the first n // 4 dropped). In the first
    evaluations both curves fall steeply from the untrained networks, and these few large changes can decide a
    Pearson correlation of all the changes on their own: an estimate that falls with quality at first and moves
    against it for the rest of a run can still score high on all of them. Without them the test asks whether the
    estimate follows the smaller moves of quality once training has settled."""
    return change_correlation(late_part(x), late_part(y))


def late_part(values: list) -> list:
    """The evaluations after the first quarter (the first n // 4 left out): what the late-change test reads."""
    return values[len(values) // 4 :]


def partial_correlation(x: list[float], y: list[float], z: list[float]) -> float:
    """Pearson correlation of x and y with z held fixed, (r_xy - r_xz r_yz) / sqrt((1 - r_xz^2)(1 - r_yz^2)): with
    z the step, what is left of their linear relation once each one's linear dependence on training time is
    taken out. (Ranks would not do: an estimate that falls at every evaluation has rank correlation -1 with the
    step, and nothing would be left to correlate.) A curve that decays faster than linearly keeps part of its
    trend in the residual, so this is the weakest of the three tests; the step-to-step changes are the strictest."""
    if len(x) < 4:
        return math.nan
    r_xy, r_xz, r_yz = (float(np.corrcoef(a, b)[0, 1]) for a, b in ((x, y), (x, z), (y, z)))
    denominator = math.sqrt(max(0.0, (1 - r_xz**2) * (1 - r_yz**2)))
    return (r_xy - r_xz * r_yz) / denominator if denominator > 0 else math.nan


def matched_step_correlation(curves: list[dict], key: str, quality: str) -> tuple[float, int]:
    """(Pearson r, pairs) between runs at the same step: each run's estimate and quality minus the mean over the
    runs evaluated at that step, pooled over steps. Positive: at a given step, the run with the higher estimate
    has the worse quality; the time trend, shared by all runs, is removed by construction."""
    steps = sorted({r["step"] for r in curves})
    xs, ys = [], []
    for step in steps:
        at = [r for r in curves if r["step"] == step and not math.isnan(r[key])]
        if len(at) < 2:
            continue
        x, y = np.array([r[key] for r in at]), np.array([r[quality] for r in at])
        xs += list(x - x.mean())
        ys += list(y - y.mean())
    if len(xs) < 3 or np.std(xs) == 0 or np.std(ys) == 0:
        return math.nan, len(xs)
    return float(pearsonr(xs, ys).statistic), len(xs)


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
        pairs = [(h, v, r["step"]) for h, v, r in zip(heldout, q, evals, strict=True) if not math.isnan(h)]
        h_x, h_q, h_steps = [p[0] for p in pairs], [p[1] for p in pairs], [p[2] for p in pairs]
        spearman_h, pearson_h = correlation(h_x, h_q)
        steps = [r["step"] for r in evals]
        rows.append(
            {
                **dict(run.labels),
                "estimate": name,
                "points": len(evals),
                "spearman_train": spearman_t,
                "pearson_train": pearson_t,
                "spearman_heldout": spearman_h,
                "pearson_heldout": pearson_h,
                "spearman_quality_step": correlation(steps, q)[0],
                "spearman_estimate_step": correlation(steps, trained)[0],
                "change_train": change_correlation(trained, q),
                "change_heldout": change_correlation(h_x, h_q),
                "late_change_train": late_change_correlation(trained, q),
                "late_change_heldout": late_change_correlation(h_x, h_q),
                "partial_train": partial_correlation(trained, q, steps),
                "partial_heldout": partial_correlation(h_x, h_q, h_steps),
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
               "batches and on held-out test images (bottom) over training; line: mean over seeds, band: min to max."
               + style.band_note(curves)),
        Figure(plot_scatter(plan, curves, study_dir, quality), "Each run's estimate against its quality at the same "
               "steps, joined in time (square: first evaluation, black dot: last); one line per seed."),
        Figure(*plot_samples(plan, study_dir)),
    ]  # fmt: skip
    matched = {
        (objective, key): matched_step_correlation([c for c in curves if c["objective"] == objective], key, quality)
        for objective in images.OBJECTIVES
        for key in ("estimate", "heldout")
    }
    write_csv(study_dir / "matched_steps.csv", [{"objective": o, "estimate": k, "pearson": r, "pairs": n}
                                                for (o, k), (r, n) in matched.items()])  # fmt: skip
    return section(plan, rows, finals, figures, quality, matched)


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
                    values = style.by_step(rows, key, steps)
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


def plot_samples(plan: Plan, study_dir: Path) -> tuple[Path, str]:
    """The sample figure and its caption: seed 0 of each objective at the pictures nearest its quarters."""
    on_quarters = True
    with style.rc():
        figure, axes = style.figure(len(images.OBJECTIVES), 4, width=11, height=2.9 * len(images.OBJECTIVES))
        for row, objective in enumerate(images.OBJECTIVES):
            folder = plan.folder(study_dir, plan.find(objective=objective, seed=0)[0])
            steps = quarter_steps(images.sample_steps(folder))
            on_quarters &= steps == [steps[-1] * quarter // 4 for quarter in range(1, 5)]
            for col in range(len(steps), 4):  # a run with fewer pictures than panels
                axes[row, col].axis("off")
            for col, step in enumerate(steps):
                _, samples = images.sample_grid(folder, 36, step)
                grid = image_grid(samples, columns=6)
                axes[row, col].imshow(grid[:, :, 0] if grid.shape[2] == 1 else grid, cmap="gray", vmin=0, vmax=255)
                axes[row, col].set_title(f"{style.title(objective)}, step {step:,}")
                axes[row, col].axis("off")
        path = save_figure(figure, study_dir, "samples")
    where = (
        "at a quarter, half, three quarters and the end of training"
        if on_quarters
        else "at the pictures nearest a quarter, half, three quarters and the end of its training, each panel's "
        "step in its title"
    )
    return path, f"Samples of seed 0 {where} (the same z in every panel)."


def quarter_steps(steps: list[int]) -> list[int]:
    """Of a run's sample-picture steps, those nearest a quarter, a half, three quarters and all of its last one:
    at the default size (four pictures) all four; a long run, drawn every 2,500 steps until its stop rule ended
    it, gets pictures spread over its own length rather than its last four."""
    chosen = []
    for quarter in range(1, 5):
        nearest = min(steps, key=lambda step: (abs(step - steps[-1] * quarter / 4), step))
        if nearest not in chosen:
            chosen.append(nearest)
    return chosen


def capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


def span(values: list[int]) -> str:
    """The number of evaluations per run: "20", or "15–20" when a stop rule ended the runs at different steps."""
    return f"{min(values)}" if min(values) == max(values) else f"{min(values)}–{max(values)}"


def trend_range(rows: list[dict]) -> str:
    values = [r["spearman_quality_step"] for r in rows if not math.isnan(r["spearman_quality_step"])]
    return f"{fmt(min(values), 2)} to {fmt(max(values), 2)} over the {len(values)} runs" if values else "n/a"


def trend_table(rows: list[dict], matched: dict) -> list[list[str]]:
    """Per objective: how far the quality follows time alone, then the three tests that time cannot fake."""

    def cell(group: list[dict], key: str) -> str:
        values = [r[key] for r in group if not math.isnan(r[key])]
        return mean_std(values, 2) if values else "n/a"

    table = []
    for objective in images.OBJECTIVES:
        group = [r for r in rows if r["objective"] == objective]
        keys = ("spearman_quality_step", "spearman_estimate_step", "change_train", "change_heldout",
                "late_change_train", "late_change_heldout", "partial_train", "partial_heldout")  # fmt: skip
        between = [f"{fmt(matched[objective, k][0], 2)} ({matched[objective, k][1]})" for k in ("estimate", "heldout")]
        table.append([style.title(objective), *(cell(group, key) for key in keys), *between])
    return table


# Measured on checkpoints of two runs of this study's long seed-recipe pool (benchmarks/eval_noise.py); only the
# long size's report says it, the size it was measured at.
NOISE_NOTE = (
    "Each evaluation draws new samples, and the same weights measured on 8 other draws of 2,000 samples moved by "
    "about 4 FD units (sd 2.8–4.9 on a GAN and a WGAN-GP run at FD 35–130; 8–12 % of FD at the GAN's plateau: "
    "`benchmarks/results/eval_noise.md`): a change between two evaluations carries that noise twice, so on a flat run "
    "even an estimate that followed the generator's quality exactly would correlate with FD's later changes well "
    "below 1 (at most 0.71 on the GAN run measured), and the best FD of a run lies below its generator's "
    "typical value."
)


def within_run_verdict(changes: tuple[float, float], late: tuple[float, float]) -> str:
    """From the mean correlations of the step-to-step changes (training batches, held out) over all evaluations
    and over those after the first quarter: each pair says "follows" when both are at least 0.5 and "does not
    follow" when both are below 0.2; the estimate follows when both pairs say so, does not follow when either
    does, and follows partly otherwise. Tracking has to survive both tests: all of the changes (which the first,
    large ones can decide) and the later ones alone."""
    says = ["follows" if min(pair) >= 0.5 else "not" if max(pair) < 0.2 else "partly" for pair in (changes, late)]
    if says == ["follows", "follows"]:
        return "follows quality from one evaluation to the next"
    if "not" in says:
        return "does not follow quality from one evaluation to the next"
    return "follows quality from one evaluation to the next only partly"


def tracking_verdicts(rows: list[dict], matched: dict) -> str:
    """One clause per objective: within a run as `within_run_verdict` says, with its four numbers; between runs,
    the matched-step correlation on training batches as measured."""
    clauses = []
    for objective in images.OBJECTIVES:
        group = [r for r in rows if r["objective"] == objective]
        train, heldout, late_train, late_heldout = (
            float(np.nanmean([r[key] for r in group]))
            for key in ("change_train", "change_heldout", "late_change_train", "late_change_heldout")
        )
        within = within_run_verdict((train, heldout), (late_train, late_heldout))
        between, pairs = matched[objective, "estimate"]
        clauses.append(f"{style.title(objective)}'s estimate {within} (changes {fmt(train, 2)} on training batches, "
                       f"{fmt(heldout, 2)} held out; after the first quarter of evaluations {fmt(late_train, 2)} and "
                       f"{fmt(late_heldout, 2)}); between its runs at the same step r = {fmt(between, 2)} "
                       f"({pairs} pairs)")  # fmt: skip
    return "; ".join(clauses)


def setup_text(plan: Plan) -> list[str]:
    """The report's setup bullets: data, networks, recipes, length, evaluation, final metrics, where the runs are."""
    config = plan.runs[0].config()
    s = plan.settings
    return [
        f"Data: {'Fashion-MNIST, 28 px padded with 2 black pixels to 32 px' if s['fashion_mnist'] else s['data']}; "
        f"networks: DCGAN generator with batch norm, DCGAN critic without normalisation (seed 002's Fig. 6 setting), "
        f"{config.model.channels} base channels, z_dim {config.model.z_dim}, batch {config.train.batch_size}.",
        images.recipe_text(
            plan,
            "Recipes as published: GAN Adam 2e-4 β (0.5, 0.999), n_critic 1; WGAN RMSProp 5e-5, c = 0.01, n_critic "
            "5; WGAN-GP Adam 1e-4 β (0, 0.9), λ = 10, n_critic 5 (the `fashion_mnist/<objective>` presets)."
            if not s["paper"]
            else "Seed 002's Table 1: batch 256, lr 2e-4, n_critic 1 / 4 / 4, 1000 epochs.",
        ),
        f"{capitalised(images.length_text(config))}; {images.evaluation_text(config)} "
        f"{images.headline_title(plan.settings)} of {config.log.eval_samples:,} samples against the "
        "10,000 test images, and the critic's estimate on as many held-out test images (train mode, buffers "
        "restored); the training-batch estimate is the mean over the steps since the previous evaluation.",
        *([NOISE_NOTE] if plan.size == "long" and s["fashion_mnist"] else []),
        f"At the end: TF-Inception FID, KID and precision/recall of {config.log.final_samples:,} samples against the "
        "test images (FID is biased upwards at this sample size; compare it only within this report).",
        f"Runs live in `{plan.runs_dir}` (shared with the other image studies); "
        f"`{' '.join(['wganlab', 'study', NAME, *size_flags(plan.size, None, plan.recipe, plan.fp32)])} --plan` lists "
        "their commands.",
    ]


def section(
    plan: Plan, rows: list[dict], finals: list[dict], figures: list[Figure], quality: str, matched: dict
) -> Section:
    table, means = [], {}
    for objective in images.OBJECTIVES:
        group = [r for r in rows if r["objective"] == objective]
        cells = []
        for key in ("spearman_train", "pearson_train", "spearman_heldout", "pearson_heldout"):
            values = [r[key] for r in group if not math.isnan(r[key])]
            cells.append(mean_std(values) if values else "n/a")
            means[objective, key] = float(np.mean(values)) if values else math.nan
        final = [f for f in finals if f["objective"] == objective]
        table.append([style.title(objective), estimate_name(objective), span([r["points"] for r in group]), *cells,
                      mean_std([f["fid"] for f in final]) if all("fid" in f for f in final) else "n/a"])  # fmt: skip
    summary_text = ", ".join(
        f"{style.title(o)} {fmt(means[o, 'spearman_train'], 2)} (held-out {fmt(means[o, 'spearman_heldout'], 2)})"
        for o in images.OBJECTIVES
    )
    findings = [
        "Mean Spearman correlation over training between each objective's estimate and "
        f"{images.headline_title(plan.settings)} ({span([r['points'] for r in rows])} evaluations per run, "
        f"{plan.seeds} seeds): "
        f"{summary_text}. A value near +1 means the "
        "estimate falls as the samples improve, as the WGAN paper claims for its W estimate.",
        "But both curves fall with training time, so anything that decays over a run scores high against them: "
        f"the quality's own Spearman correlation with the step is {trend_range(rows)}. Beyond that shared trend "
        f"(table 2: step-to-step changes, over all evaluations and after the first quarter, where the first large "
        f"falls from the untrained networks no longer count; the correlation given the step; and between runs at "
        f"the same step): "
        f"{tracking_verdicts(rows, matched)}.",
    ]
    setup = setup_text(plan)
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
            ),
            Table(
                f"Tracking beyond the shared time trend (training batches and held-out images; mean ± std over "
                f"{plan.seeds} seeds): Spearman of quality and of the estimate with the step; Pearson of their "
                "step-to-step changes, over all evaluations and over those after the first quarter; partial Pearson "
                "given the step; Pearson between runs at the same step (each run minus the mean of the runs at that "
                "step, pooled; pairs in brackets)",
                [
                    "objective",
                    "quality vs step",
                    "estimate vs step",
                    "changes (train)",
                    "changes (held-out)",
                    "later changes (train)",
                    "later changes (held-out)",
                    "partial (train)",
                    "partial (held-out)",
                    "between runs (train)",
                    "between runs (held-out)",
                ],
                trend_table(rows, matched),
                "correlations.csv",
            ),
        ],  # fmt: skip
        setup=setup,
    )
