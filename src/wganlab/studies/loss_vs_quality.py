"""Does the loss track sample quality? (WGAN paper, sec. 4: "a meaningful loss metric that correlates with the
generator's convergence and sample quality".) For every toy-training run: Spearman and Pearson correlation
between the objective's own logged estimate (w_estimate for WGAN and WGAN-GP, js_estimate for the GAN;
metrics.jsonl kind="train") and the exact W1 of its samples (kind="eval") at the same steps.

Reuses toy-training's runs when they are in this folder's `runs/` or in a sibling `toy-training/runs/` with
the same settings; trains them otherwise.
"""

import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from scipy.stats import pearsonr, spearmanr

from wganlab.studies import toy_training
from wganlab.studies.report import Figure, Section, Table, fmt, mean_std, save_figure, write_csv
from wganlab.studies.toy_training import COLOURS, ESTIMATE, OBJECTIVES, TOY_TITLES


def find_runs(out: Path, settings: dict) -> Path:
    """A runs folder holding every finished run of `settings` (toy-training's, if present), else out/runs."""
    for runs in (out / "runs", out.parent / "toy-training" / "runs"):
        if all_finished(runs, settings):
            return runs
    return out / "runs"


def all_finished(runs: Path, settings: dict) -> bool:
    return all(
        toy_training.is_finished(
            runs / toy / objective / f"seed-{seed}", toy_training.run_config(toy, objective, seed, settings)
        )
        for toy in settings["toys"]
        for objective in OBJECTIVES
        for seed in range(settings["seeds"])
    )


def correlations(estimates: list[float], w1: list[float]) -> dict[str, float]:
    """Spearman's rho and Pearson's r of estimate vs W1 (nan when either is constant)."""
    if len(set(estimates)) < 2 or len(set(w1)) < 2:
        return {"spearman": math.nan, "pearson": math.nan}
    return {
        "spearman": float(spearmanr(estimates, w1).statistic),
        "pearson": float(pearsonr(estimates, w1).statistic),
    }


def run(out: Path, *, quick: bool, seeds: int | None) -> Section:
    settings = toy_training.plan(quick, seeds)
    runs = find_runs(out, settings)
    reused = runs != out / "runs"
    toy_training.train_runs(runs, settings)
    rows, pairs = [], {}
    for toy in settings["toys"]:
        for objective in OBJECTIVES:
            for seed in range(settings["seeds"]):
                trains, evals = toy_training.read_metrics(runs / toy / objective / f"seed-{seed}")
                estimate_at = {r["step"]: r[ESTIMATE[objective]] for r in trains}
                matched = [(estimate_at[r["step"]], r["w1"]) for r in evals if r["step"] in estimate_at]
                estimates, w1 = [m[0] for m in matched], [m[1] for m in matched]
                pairs[toy, objective, seed] = (estimates, w1)
                rows.append(
                    {
                        "toy": toy,
                        "objective": objective,
                        "seed": seed,
                        "estimate": ESTIMATE[objective],
                        "points": len(matched),
                        **correlations(estimates, w1),
                    }
                )
    write_csv(out / "correlations.csv", rows)
    figure_path = plot(out, settings, pairs)
    return section(rows, settings, figure_path, reused)


def plot(out: Path, settings: dict, pairs: dict) -> Path:
    toys = settings["toys"]
    figure, axes = plt.subplots(
        len(toys), len(OBJECTIVES), figsize=(4.2 * len(OBJECTIVES), 3.6 * len(toys)), layout="constrained",
        squeeze=False,
    )  # fmt: skip
    for row, toy in enumerate(toys):
        for col, objective in enumerate(OBJECTIVES):
            axis = axes[row, col]
            for seed in range(settings["seeds"]):
                estimates, w1 = pairs[toy, objective, seed]
                axis.plot(estimates, w1, "o-", ms=3, lw=0.6, alpha=0.7, label=f"seed {seed}")
            axis.set(
                title=f"{TOY_TITLES[toy]}: {objective.upper()}",
                xlabel=ESTIMATE[objective].replace("_", " ") + " (logged)",
                ylabel="exact W1 (POT)",
            )
            axis.title.set_color(COLOURS[objective])
            axis.grid(alpha=0.3)
            if settings["seeds"] <= 6:
                axis.legend(fontsize=7)
    return save_figure(figure, out, "loss_vs_w1")


def section(rows: list[dict], settings: dict, figure_path: Path, reused: bool) -> Section:
    table, spearman_means = [], {}
    for toy in settings["toys"]:
        for objective in OBJECTIVES:
            group = [r for r in rows if r["toy"] == toy and r["objective"] == objective]
            spearman = [r["spearman"] for r in group if not math.isnan(r["spearman"])]
            pearson = [r["pearson"] for r in group if not math.isnan(r["pearson"])]
            table.append(
                [
                    TOY_TITLES[toy],
                    objective.upper(),
                    ESTIMATE[objective],
                    str(group[0]["points"]),
                    mean_std(spearman) if spearman else "n/a",
                    mean_std(pearson) if pearson else "n/a",
                ]
            )
            spearman_means[toy, objective] = float(np.mean(spearman)) if spearman else math.nan
    summary = "; ".join(
        f"{TOY_TITLES[t]} " + ", ".join(f"{o.upper()} {fmt(spearman_means[t, o], 2)}" for o in OBJECTIVES)
        for t in settings["toys"]
    )
    points = rows[0]["points"]
    findings = [
        f"Mean Spearman correlation between each objective's logged estimate and the exact W1 over training "
        f"({points} evaluation steps per run, {settings['seeds']} seeds): {summary}.",
        "A value near +1 means the estimate falls as the samples approach the data, as the WGAN paper "
        "claims for "
        "its W estimate; the table gives Pearson's r and the spread over seeds.",
    ]
    return Section(
        name="loss-vs-quality-toy",
        title="Does the loss track quality? Logged estimate vs exact W1 on the toys",
        findings=findings,
        figures=[
            Figure(
                figure_path,
                "Each run's logged estimate against the exact W1 of its samples at the same steps, joined in time.",
            )
        ],
        tables=[
            Table(
                "Correlation of logged estimate with exact W1 over training (mean ± std over seeds)",
                ["toy", "objective", "estimate", "points per run", "Spearman ρ", "Pearson r"],
                rows=table,
                csv_name="correlations.csv",
            )
        ],
        setup=[
            "Runs: the toy-training study's (" + ("reused from its folder" if reused else "trained here") + "), "
            f"evaluated every {settings['eval_every']} steps; the train record at a step averages the "
            "losses of "
            f"the {settings['eval_every']} steps before it (log_every = eval_every).",
            "GAN: js_estimate = (log 4 − critic loss)/2, exact only for an optimal discriminator. WGAN, "
            "WGAN-GP: "
            "w_estimate = E f(real) − E f(fake) without the penalty; WGAN's is W scaled by its clipped "
            "critic's "
            "Lipschitz constant, which correlation ignores.",
            "Correlations per run with scipy.stats (spearmanr, pearsonr), then mean ± std over seeds.",
        ],
    )
