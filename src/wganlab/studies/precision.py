"""Quality parity of the fast path (issue 33): does training in bfloat16 autocast, with the convolutions in
channels-last layout, end where plain fp32 ends?

The default image cell (DCGAN generator with batch norm, DCGAN critic without normalisation) for GAN, WGAN and
WGAN-GP at their published recipes, each trained in fp32 (the recipe cells of the shared pool, the same runs as
loss-vs-quality's) and on the fast path: `train.precision=bf16` (autocast to bfloat16 around the forwards and
the penalty; fp32 weights, gradients and optimiser state; the penalty's norm in fp32) with
`train.channels_last=true` (NHWC weights and batches), 3 seeds each. Parity holds for an objective when the fast
runs' mean final quality lies within the fp32 seeds' range, for the quality the studies track and for the final
TF-Inception FID alike.
"""

import math
from pathlib import Path

import numpy as np

from wganlab.studies.common import images, style
from wganlab.studies.common.report import Figure, Section, Table, fmt, mean_std, save_figure, write_csv
from wganlab.studies.common.runner import Plan

NAME = "precision"
KIND = "image"
TAKES_DATA = True
FAST = "bf16-cl"  # the fast path's cell variant: bf16 autocast with channels-last layout
FAST_OVERRIDES = images.FAST_PATH
FAST_NAME = "bf16 + channels-last"
CELLS = [
    cell
    for objective in images.OBJECTIVES
    for cell in (
        images.Cell("dcgan-bn", "none", objective),
        images.Cell("dcgan-bn", "none", objective, FAST, FAST_OVERRIDES),
    )
]


def plan(size: str, seeds: int | None, data: str | None = None) -> Plan:
    return images.cell_plan(NAME, CELLS, size, seeds, data)


summary = images.run_summary  # the line printed as each run finishes


def precision(cell: images.Cell) -> str:
    return cell.variant or "fp32"


def parity(fp32: list[float], fast: list[float]) -> str:
    """ "holds" when the fast runs' mean lies within the fp32 seeds' range (min to max); "fails (lower)" or "fails
    (higher)" when it lies below or above it (lower is better for every measure here); "n/a" without finite values
    on both sides."""
    reference, candidate = np.array(fp32, dtype=float), np.array(fast, dtype=float)
    if not np.isfinite(reference).any() or not np.isfinite(candidate).any():
        return "n/a"
    mean = float(np.nanmean(candidate))
    if mean < np.nanmin(reference):
        return "fails (lower)"
    return "holds" if mean <= np.nanmax(reference) else "fails (higher)"


def paired(fp32: list[float], fast: list[float]) -> str:
    """Fast minus fp32 seed by seed (the same seed draws the same initial weights in both), mean ± std."""
    return mean_std([b - a for a, b in zip(fp32, fast, strict=True)])


def collect(plan: Plan, study_dir: Path) -> Section:
    planned = {dict(run.labels)["objective"] for run in plan.runs}
    objectives = [objective for objective in images.OBJECTIVES if objective in planned]
    cells = [cell for cell in CELLS if cell.objective in planned]
    quality, curves, rows, _ = images.collect_cells(plan, study_dir, cells, precision)
    title = images.headline_title(plan.settings)
    table, verdicts, comparison = [], [], []
    for objective in objectives:
        fp32, fast = (images.of_cell(rows, images.Cell("dcgan-bn", "none", objective, v)) for v in ("", FAST))
        fp32, fast = sorted(fp32, key=lambda r: r["seed"]), sorted(fast, key=lambda r: r["seed"])
        checks = {}
        for key, name in ((quality, title), ("fid", "FID")):
            a, b = [r[key] for r in fp32], [r[key] for r in fast]
            checks[name] = parity(a, b)
            table.append([style.title(objective), name, mean_std(a), mean_std(b), paired(a, b),
                          f"{fmt(np.nanmin(a))} to {fmt(np.nanmax(a))}" if np.isfinite(a).any() else "n/a",
                          checks[name]])  # fmt: skip
        seconds = [float(np.nanmedian([r["sec_per_step"] for r in group])) for group in (fp32, fast)]
        ratio = seconds[1] / seconds[0] if all(math.isfinite(s) and s > 0 for s in seconds) else math.nan
        comparison.append([style.title(objective), fmt(seconds[0]), fmt(seconds[1]), fmt(ratio, 2)])
        verdicts.append(f"{style.title(objective)}: {title} {checks[title]}, FID {checks['FID']}")
    columns = ("objective", "measure", "fp32", "fast", "fast - fp32", "fp32 range", "parity")
    write_csv(study_dir / "parity.csv", [dict(zip(columns, row, strict=True)) for row in table])
    config = plan.runs[0].config()
    findings = [
        f"Parity (the {FAST_NAME} mean within the fp32 seeds' range, after {images.length_text(config)}): "
        + "; ".join(verdicts)
        + ".",
        "Median seconds per generator step of the runs themselves, fp32 against "
        f"{FAST_NAME}: "
        + "; ".join(f"{row[0]} {row[1]} and {row[2]} ({row[3]}×)" for row in comparison)
        + ". The two precisions ran at different times and loads, so these are not a speed comparison: "
        "`benchmarks/results/speed.md` times them side by side.",
        images.load_text(curves),
    ]
    findings = [f for f in findings if f]
    if any(row[-1].startswith("fails") for row in table):
        findings.insert(1, "A measure fails when the fast runs' mean lies outside the fp32 seeds' range on either "
                        "side; \"fails (lower)\" is a fast path that ended better than every fp32 seed, which three "
                        "seeds cannot tell from chance, but it is not the parity this study tests.")  # fmt: skip
    return Section(
        name=NAME,
        title=f"Does training in {FAST_NAME} end where fp32 ends?",
        findings=findings,
        figures=[
            Figure(
                plot(plan, study_dir, curves, quality, objectives),
                f"{title} over training per objective, fp32 and {FAST_NAME} (line: mean over seeds, band: min to max)."
                + style.band_note(curves),
            )
        ],
        tables=[
            Table(
                f"Final quality, mean ± std over {plan.seeds} seeds (fast: {FAST_NAME}; fast − fp32: paired by seed)",
                ["objective", "measure", "fp32", "fast", "fast − fp32", "fp32 range", "parity"],
                table,
                "parity.csv",
            ),
            Table(
                "Median seconds per generator step of these runs",
                ["objective", "fp32", "fast", "fast / fp32"],
                comparison,
                "runs.csv",
            ),
        ],
        setup=[
            images.recipe_text(plan, "")
            + "GAN, WGAN and WGAN-GP at their published recipes with the DCGAN generator with batch norm and the "
            f"DCGAN critic without normalisation, {images.length_text(config)}, evaluated "
            f"{images.evaluation_text(config)} with {config.log.eval_samples:,} samples; final FID on "
            f"{config.log.final_samples:,} samples. fp32 runs are the pool's recipe cells (`{plan.runs_dir}`).",
            f"{FAST_NAME}: `train.precision=bf16`, autocast around the generator and critic forwards and the "
            "penalty's forward; fp32 weights, gradients and optimiser state; the penalty's gradient norm in fp32 "
            "(src/wganlab/training/precision.py, objectives/constraints); `train.channels_last=true`: convolution "
            "weights and image batches in NHWC layout. Evaluation samples are drawn under the same autocast as "
            "training.",
        ],
    )


def plot(plan: Plan, study_dir: Path, curves: list[dict], quality: str, objectives: list[str]) -> Path:
    with style.rc():
        figure, axes = style.figure(1, len(objectives), width=5 * len(objectives), height=4.2)
        for axis, objective in zip(axes[0], objectives, strict=True):
            for variant, name, colour, line in (("", "fp32", style.colour("", 0), "-"),
                                               (FAST, FAST_NAME, style.colour("", 1), "--")):  # fmt: skip
                cell = images.Cell("dcgan-bn", "none", objective, variant)
                images.plot_lines(axis, images.of_cell(curves, cell), "step", quality, colour, name, line)
            axis.set(title=style.title(objective), xlabel="generator step", yscale="log")
            style.plain_log_ticks(axis, "y")
        axes[0, 0].set_ylabel(images.headline_title(plan.settings))
        axes[0, -1].legend(frameon=False)
        return save_figure(figure, study_dir, NAME)
