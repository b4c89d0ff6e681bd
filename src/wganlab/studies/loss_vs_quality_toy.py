"""Does the loss track sample quality? (WGAN paper, sec. 4: "a meaningful loss metric that correlates with the
generator's convergence and sample quality".) For every toy-training run: Spearman and Pearson correlation
between the objective's own logged estimate (w_estimate for WGAN and WGAN-GP, js_estimate for the GAN,
score_gap for SNGAN; metrics.jsonl kind="train") and the exact W1 of its samples (kind="eval") at the same
steps.

The runs are toy-training's own (the same plan, in its runs folder), so running both studies trains them once.
"""

import math
from pathlib import Path

import numpy as np
from scipy.stats import pearsonr, spearmanr

from wganlab.objectives import estimate_name
from wganlab.studies import toy_training
from wganlab.studies.common import style
from wganlab.studies.common.report import Figure, Section, Table, fmt, mean_std, save_figure, write_csv
from wganlab.studies.common.runner import Plan, folder_name
from wganlab.studies.common.toys import OBJECTIVES, TOY_TITLES
from wganlab.studies.loss_vs_quality import (
    change_correlation,
    late_change_correlation,
    matched_step_correlation,
    partial_correlation,
)
from wganlab.training.run_folder import RunFolder

NAME = "loss-vs-quality-toy"
KIND = "toy"
TAKES_DATA = False


def plan(size: str, seeds: int | None) -> Plan:
    shared = toy_training.plan(size, seeds)
    return Plan(
        NAME,
        size,
        shared.seeds,
        shared.runs,
        shared.settings,
        runs_dir=f"../{folder_name(toy_training.NAME, size)}/runs",
    )


summary = toy_training.summary


def correlations(estimates: list[float], w1: list[float]) -> dict[str, float]:
    """Spearman's rho and Pearson's r of estimate vs W1 (nan when either is constant)."""
    if len(set(estimates)) < 2 or len(set(w1)) < 2:
        return {"spearman": math.nan, "pearson": math.nan}
    return {
        "spearman": float(spearmanr(estimates, w1).statistic),
        "pearson": float(pearsonr(estimates, w1).statistic),
    }


def beyond_trend(estimates: list[float], w1: list[float], steps: list[int]) -> dict[str, float]:
    """The image study's tests of tracking that a shared time trend cannot fake, on one run: W1's own Spearman
    correlation with the step (how much of the above is the trend), the Pearson correlation of the step-to-step
    changes over all evaluations and over those after the first quarter, and the partial correlation given the
    step (loss_vs_quality.change_correlation, late_change_correlation, partial_correlation)."""
    at = [float(s) for s in steps]
    return {
        "spearman_w1_step": correlations(at, w1)["spearman"] if len(at) >= 3 else math.nan,
        "change": change_correlation(estimates, w1),
        "late_change": late_change_correlation(estimates, w1),
        "partial": partial_correlation(estimates, w1, at),
    }


def between_runs(points: list[dict]) -> dict[tuple[str, str], tuple[float, int]]:
    """Per toy and objective, loss_vs_quality.matched_step_correlation of the estimate and W1 between its seeds at
    the same step: (Pearson r, pairs). Positive: at a given step, the seed with the higher estimate has the higher
    W1; the time trend, shared by all seeds, is removed by construction. `points`: one dict per run and
    evaluation with toy, objective, step, estimate and w1."""
    cells = {(p["toy"], p["objective"]) for p in points}
    return {
        cell: matched_step_correlation([p for p in points if (p["toy"], p["objective"]) == cell], "estimate", "w1")
        for cell in sorted(cells)
    }


def collect(plan: Plan, study_dir: Path) -> Section:
    rows, pairs, points = [], {}, []
    for run in plan.runs:
        folder = RunFolder(plan.folder(study_dir, run))
        objective = run.label("objective")
        estimate_at = {r["step"]: r[estimate_name(objective)] for r in folder.records("train")}
        matched = [(estimate_at[r["step"]], r["w1"], r["step"]) for r in folder.records("eval")
                   if r["step"] in estimate_at]  # fmt: skip
        estimates, w1, steps = [m[0] for m in matched], [m[1] for m in matched], [m[2] for m in matched]
        pairs[run.label("toy"), objective, run.label("seed")] = (estimates, w1)
        points += [{"toy": run.label("toy"), "objective": objective, "step": step, "estimate": e, "w1": w}
                   for e, w, step in matched]  # fmt: skip
        rows.append({**dict(run.labels), "estimate": estimate_name(objective), "points": len(matched),
                     **correlations(estimates, w1), **beyond_trend(estimates, w1, steps)})  # fmt: skip
    write_csv(study_dir / "correlations.csv", rows)
    return section(plan, rows, plot(plan, study_dir, pairs), between_runs(points))


def trend_table(plan: Plan, rows: list[dict], matched: dict[tuple[str, str], tuple[float, int]]) -> list[list[str]]:
    """Per toy and objective, mean ± std over seeds of `beyond_trend`'s four numbers, then `between_runs`."""
    table = []
    for toy in plan.settings["toys"]:
        for objective in OBJECTIVES:
            group = [r for r in rows if r["toy"] == toy and r["objective"] == objective]
            cells = []
            for key in ("spearman_w1_step", "change", "late_change", "partial"):
                values = [r[key] for r in group if not math.isnan(r[key])]
                cells.append(mean_std(values, 2) if values else "n/a")
            r, n = matched.get((toy, objective), (math.nan, 0))
            table.append([TOY_TITLES[toy], style.title(objective), *cells, f"{fmt(r, 2)} ({n})"])
    return table


def plot(plan: Plan, study_dir: Path, pairs: dict) -> Path:
    toys = plan.settings["toys"]
    with style.rc():
        figure, axes = style.figure(len(toys), len(OBJECTIVES), width=3.6 * len(OBJECTIVES), height=3.3 * len(toys))
        for row, toy in enumerate(toys):
            for col, objective in enumerate(OBJECTIVES):
                axis = axes[row, col]
                for seed in range(plan.seeds):
                    estimates, w1 = pairs[toy, objective, seed]
                    axis.plot(estimates, w1, "o-", ms=2.5, lw=0.6, alpha=0.7, color=style.colour(objective))
                    if estimates:
                        axis.plot(estimates[0], w1[0], "s", ms=5, mfc="white", color=style.colour(objective))
                        axis.plot(estimates[-1], w1[-1], "o", ms=6, color="black")
                axis.set_title(f"{TOY_TITLES[toy]}: {style.title(objective)}", color=style.colour(objective))
                axis.set(xlabel=f"{estimate_name(objective)} (logged)", ylabel="exact W1" if col == 0 else None)
        return save_figure(figure, study_dir, "loss_vs_w1")


def step_range(rows: list[dict]) -> str:
    values = [r["spearman_w1_step"] for r in rows if not math.isnan(r["spearman_w1_step"])]
    return f"{fmt(min(values), 2)} to {fmt(max(values), 2)} over the {len(values)} runs" if values else "n/a"


def section(plan: Plan, rows: list[dict], figure_path: Path, matched: dict) -> Section:
    table, spearman_means = [], {}
    for toy in plan.settings["toys"]:
        for objective in OBJECTIVES:
            group = [r for r in rows if r["toy"] == toy and r["objective"] == objective]
            spearman = [r["spearman"] for r in group if not math.isnan(r["spearman"])]
            pearson = [r["pearson"] for r in group if not math.isnan(r["pearson"])]
            table.append(
                [
                    TOY_TITLES[toy],
                    style.title(objective),
                    estimate_name(objective),
                    str(group[0]["points"]),
                    mean_std(spearman) if spearman else "n/a",
                    mean_std(pearson) if pearson else "n/a",
                ]
            )
            spearman_means[toy, objective] = float(np.mean(spearman)) if spearman else math.nan
    summary_text = "; ".join(
        f"{TOY_TITLES[t]} " + ", ".join(f"{style.title(o)} {fmt(spearman_means[t, o], 2)}" for o in OBJECTIVES)
        for t in plan.settings["toys"]
    )
    findings = [
        f"Mean Spearman correlation between each objective's logged estimate and the exact W1 of its samples over "
        f"training ({rows[0]['points']} evaluation steps per run, {plan.seeds} seeds): {summary_text}.",
        "A value near +1 means the estimate falls as the samples approach the data, as the WGAN paper claims for "
        "its W estimate; the table gives Pearson's r and the spread over seeds.",
        "But W1 also moves with training time (its Spearman correlation with the step: "
        f"{step_range(rows)}), and anything that decays over a run scores high against a falling W1. Table 2 tests "
        "tracking beyond that trend, as the image study does: the correlation of the step-to-step changes of "
        "estimate and W1, over all evaluations and over those after the first quarter (where both curves are "
        "mostly flat and each moves by little more than its own noise, so this test is the hardest to pass), and "
        "the partial correlation given the step (the weakest: a curve that decays faster than linearly keeps part "
        "of its trend), and between seeds at the same step (each seed minus the mean of the seeds at that step, "
        "pooled: does the seed with the higher estimate have the higher W1?).",
    ]
    every = plan.settings["eval_every"]
    return Section(
        name=NAME,
        title="Does the loss track quality? Logged estimate vs exact W1 on the toys",
        findings=findings,
        figures=[
            Figure(
                figure_path,
                "Each run's logged estimate against the exact W1 of its samples at the same "
                "steps, joined in time (square: first evaluation, black dot: last); one line per seed.",
            )
        ],  # fmt: skip
        tables=[
            Table(
                "Correlation of the logged estimate with exact W1 over training (mean ± std over seeds)",
                ["toy", "objective", "estimate", "points per run", "Spearman ρ", "Pearson r"],
                table,
                "correlations.csv",
            ),
            Table(
                "Tracking beyond the shared time trend (mean ± std over seeds): Spearman of exact W1 with the step; "
                "Pearson of the step-to-step changes of estimate and W1, over all evaluations and over those after "
                "the first quarter; partial Pearson of estimate and W1 given the step; Pearson between seeds at the "
                "same step (pairs in brackets)",
                ["toy", "objective", "W1 vs step", "changes", "later changes", "partial", "between seeds"],
                trend_table(plan, rows, matched),
                "correlations.csv",
            ),
        ],  # fmt: skip
        setup=[
            f"Runs: toy-training's ({plan.settings['steps']:,} steps, {plan.seeds} seeds), evaluated every {every} "
            f"steps; the train record at a step averages the estimate over the {every} steps before it "
            "(log_every = eval_every).",
            "GAN: js_estimate = (log 4 − critic loss)/2, exact only for an optimal discriminator. WGAN, WGAN-GP: "
            "w_estimate = E f(real) − E f(fake) without the penalty; WGAN's is W scaled by its clipped critic's "
            "Lipschitz constant, which a correlation ignores. SNGAN: score_gap = E f(real) − E f(fake) of the hinge "
            "critic.",
            "Correlations per run with scipy.stats (spearmanr, pearsonr), then mean ± std over seeds.",
        ],
    )
