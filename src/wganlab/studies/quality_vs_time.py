"""Quality against generator steps and against wall-clock time (WGAN-GP paper, sec. 5.2 and Fig. 3, where
WGAN-GP "converges more slowly (in wall-clock time) than DCGAN, but its score is more stable at convergence"):
the same networks trained as a GAN (Adam), a WGAN with clipping (RMSProp), WGAN-GP (Adam) and WGAN-GP (RMSProp).

The reference code has no RMSProp setting for WGAN-GP (only sample files name one); this study gives it WGAN's
RMSProp at 5e-5, so that the two WGAN-GP runs differ in the optimiser only from each other, and in the
constraint only from WGAN.
"""

import math
from pathlib import Path

from wganlab.studies.common import images, style
from wganlab.studies.common.report import Figure, Section, Table, fmt, mean_std, save_figure
from wganlab.studies.common.runner import Plan

NAME = "quality-vs-time"
KIND = "image"
TAKES_DATA = True
SEED_RECIPE = None  # the claim is the WGAN-GP paper's (Fig. 3), which seed 004 only repeats
SEED_RECIPE_NOTE = (
    "its claim is the WGAN-GP paper's (sec. 5.2, Fig. 3), which seed 004 reviews without settings of its own, so "
    "its seed recipe is the published one (leave out --recipe)"
)
LAST = 5  # evaluations at the end over which the stability is measured
RMSPROP = ("optim.optimizer=rmsprop", "optim.generator_lr=5e-5", "optim.critic_lr=5e-5")
CELLS = [
    images.Cell("dcgan-bn", "none", "gan"),
    images.Cell("dcgan-bn", "none", "wgan"),
    images.Cell("dcgan-bn", "none", "wgan-gp"),
    images.Cell("dcgan-bn", "none", "wgan-gp", "rmsprop", RMSPROP),
]
LABELS = {
    "gan": "GAN (Adam)",
    "wgan": "WGAN, clipping (RMSProp)",
    "wgan-gp": "WGAN-GP (Adam)",
    "wgan-gp-rmsprop": "WGAN-GP (RMSProp)",
}


def label(cell: images.Cell) -> str:
    return LABELS[cell.objective + (f"-{cell.variant}" if cell.variant else "")]


def plan(size: str, seeds: int | None, data: str | None = None) -> Plan:
    return images.cell_plan(NAME, CELLS, size, seeds, data)


summary = images.run_summary  # the line printed as each run finishes


def collect(plan: Plan, study_dir: Path) -> Section:
    quality, curves, _, table = images.collect_cells(plan, study_dir, CELLS, label)
    runs = {c: images.seed_curves(curves, c) for c in CELLS}
    equal = images.equal_time_rows(curves, CELLS, quality, label)
    references = images.fd_references(plan.settings) if plan.settings["fashion_mnist"] else {}
    findings = [
        "Seconds per generator step (training only, mean over seeds): "
        + ", ".join(f"{label(c)} {row[4]}" for c, row in zip(CELLS, table, strict=True))
        + ".",
        images.equal_time_text({"": equal}, images.headline_title(plan.settings), "table 2"),
        *(reach_text(runs, quality, level) for level in references.get("levels", [])),
        f"Stability at the end: the standard deviation of each run's last {LAST} evaluations over their mean, "
        + ", ".join(f"{label(c)} {mean_std(images.late_spread(runs[c], quality, LAST))}" for c in CELLS)
        + ' (seed 004: WGAN-GP\'s score is "more stable at convergence").',
        trend_text(runs, quality),
        catch_up_text(runs, quality),
        images.load_text(curves),
    ]
    return Section(
        name=NAME,
        title="Quality against steps and wall-clock time (WGAN-GP paper Fig. 3)",
        findings=[f for f in findings if f],
        figures=[
            Figure(
                plot(plan, study_dir, curves, quality),
                f"{images.headline_title(plan.settings)} against "
                "generator steps (left) and training wall-clock, evaluations excluded (right); line: mean "
                "over seeds, band: min to max." + style.band_note(curves),
            )
        ],  # fmt: skip
        tables=[
            images.final_values(plan, "objective (optimiser)", table),
            Table(
                f"{images.headline_title(plan.settings)} at equal training wall-clock (evaluations excluded), at the "
                "time each objective's shortest run ended: each run's last evaluation by then, mean ± std over seeds; "
                '"ended": its runs had stopped earlier',
                ["seconds", *(label(c) for c in CELLS), "lowest"],
                equal,
                "curves.csv",
            ),
        ],  # fmt: skip
        setup=[
            "One architecture for all four: DCGAN generator with batch norm, DCGAN critic without normalisation "
            "(the penalty forbids batch norm in the critic, so the WGAN critic has none either, unlike the reference "
            "code's CIFAR WGAN critic); GAN Adam 2e-4 β (0.5, 0.999); WGAN RMSProp 5e-5, c = 0.01; WGAN-GP Adam 1e-4 "
            "β (0, 0.9) or RMSProp 5e-5, λ = 10; n_critic 5 for the Wasserstein runs.",
            f"Runs shared with the other image studies through `{plan.runs_dir}`; wall-clock from each run's "
            "timing.jsonl (training only), one thread per run, two runs at once.",
        ],
    )


def reach_text(runs: dict, quality: str, level: float, name: str = "") -> str:
    """Training seconds until each setting's runs first evaluated at `level` or better (the paper's question of
    which objective converges sooner in wall-clock); `name` says what `level` is (default: the number)."""
    parts = []
    for cell, seed_rows in runs.items():
        seconds = images.seconds_to_reach(seed_rows, quality, level)
        reached = [s for s in seconds if math.isfinite(s)]
        text = mean_std(reached) + " s" if reached else "not reached"
        if reached and len(reached) < len(seconds):
            text += f" ({len(reached)} of {len(seconds)} runs)"
        parts.append(f"{label(cell)} {text}")
    return f"Training time to first reach {name or fmt(level)}: " + ", ".join(parts) + "."


def trend_text(runs: dict, quality: str) -> str:
    """The late spread split into a steady trend and the scatter about it (see images.late_trend)."""
    parts = []
    for cell, seed_rows in runs.items():
        slopes, scatters = images.late_trend(seed_rows, quality, LAST)
        parts.append(f"{label(cell)} {mean_std([100 * s for s in slopes])} % per evaluation, scatter "
                     f"{mean_std([100 * s for s in scatters])} %")  # fmt: skip
    return (
        f"The same {LAST} evaluations split into a straight-line trend (slope over their mean; negative: still "
        "improving) and the scatter about it (residual standard deviation over their mean): " + "; ".join(parts) + ". "
        "A large spread with a steep slope and little scatter is a run still converging, not an unstable one."
    )


def catch_up_text(runs: dict, quality: str) -> str:
    """Training seconds until each setting first reached the first setting's (the GAN's) final mean quality: how
    much longer the others needed for what the GAN had at the end of its steps."""
    first = CELLS[0]
    ends = [rows[-1] for rows in runs[first] if rows]
    if not ends:
        return ""
    level = sum(r[quality] for r in ends) / len(ends)
    seconds = sum(r["train_seconds"] for r in ends) / len(ends)
    return reach_text(runs, quality, level, f"{label(first)}'s final mean ({fmt(level)}, after {fmt(seconds)} s)")


def plot(plan: Plan, study_dir: Path, curves: list[dict], quality: str) -> Path:
    with style.rc():
        figure, axes = style.figure(1, 2, width=13, height=4.4, sharey=True)
        for cell in CELLS:
            rows = images.of_cell(curves, cell)
            line = "--" if cell.variant else "-"
            for axis, x in zip(axes[0], ("step", "train_seconds"), strict=True):
                images.plot_lines(axis, rows, x, quality, style.colour(cell.objective), label(cell), line)
        axes[0, 0].set(xlabel="generator step", ylabel=images.headline_title(plan.settings), yscale="log")
        style.plain_log_ticks(axes[0, 0], "y")
        axes[0, 1].set(xlabel="training wall-clock (s)")
        axes[0, 1].legend(loc="upper right")
        return save_figure(figure, study_dir, "quality_vs_time")
