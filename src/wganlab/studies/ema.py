"""Generator EMA (issue 34): does an exponential moving average of the generator's weights draw better samples
than the raw generator? The default image cell (DCGAN generator with batch norm, DCGAN critic without
normalisation, WGAN-GP's published recipe) trained with train.ema_decay = 0.999 on the fast path (bf16 autocast with
channels-last layout, at quality parity with fp32 on this cell: the precision study), 3 seeds.

The EMA changes nothing in training (tests/training/test_ema.py checks it bit for bit), so each run is its own
control: every evaluation measures the raw generator and the average on the same z (`fd_fmnist` and
`fd_fmnist_ema`), and the final metrics both (`fid` and `fid_ema`, ...). A run's raw side is the precision study's
fast-path run of the same seed (dcgan-bn-none/wgan-gp-bf16-cl/seed-N) bit for bit, but that run keeps no average,
so the EMA runs are their own cell in the pool.
"""

import math
from pathlib import Path

import numpy as np

from wganlab.studies.common import images, style
from wganlab.studies.common.report import Figure, Section, Table, fmt, mean_std, save_figure, write_csv
from wganlab.studies.common.runner import Plan
from wganlab.training.run_folder import RunFolder

NAME = "ema"
KIND = "image"
TAKES_DATA = True
BETA = 0.999


def cells() -> list[images.Cell]:
    """The one cell, on the fast path (`--fp32`: in fp32, in the pool of its own that flag gives)."""
    overrides = (f"train.ema_decay={BETA}", *images.fast_path("wgan-gp"))
    return [images.Cell("dcgan-bn", "none", "wgan-gp", f"ema-{BETA}", overrides)]


FINAL_KEYS = ("fid", "kid_mean", "precision", "recall")


def plan(size: str, seeds: int | None, data: str | None = None) -> Plan:
    return images.cell_plan(NAME, cells(), size, seeds, data)


def summary(run, folder: Path) -> str:
    """The line printed as a run finishes: its last evaluation of both generators."""
    evals = RunFolder(folder).records("eval")
    if not evals:
        return ""
    key = "fd_fmnist" if "fd_fmnist" in evals[-1] else "fid"
    last = evals[-1]
    return f"step {last['step']}: {key} {last[key]:.3g}, with EMA {last.get(key + '_ema', math.nan):.3g}"


def collect(plan: Plan, study_dir: Path) -> Section:
    quality = images.headline(plan.settings)
    title = images.headline_title(plan.settings)
    rows, curves = [], []
    for run in plan.runs:
        folder = RunFolder(plan.folder(study_dir, run))
        evals, final = folder.records("eval"), images.final_record(folder.path)
        for r in evals:
            curves.append({"seed": run.label("seed"), "step": r["step"], quality: r[quality],
                           f"{quality}_ema": r.get(f"{quality}_ema", math.nan)})  # fmt: skip
        last = evals[-1] if evals else {}
        status = (folder.outcome() or {}).get("status", "unknown")
        row = {"seed": run.label("seed"), "status": status, quality: last.get(quality, math.nan),
               f"{quality}_ema": last.get(f"{quality}_ema", math.nan)}  # fmt: skip
        for key in FINAL_KEYS:
            row[key], row[f"{key}_ema"] = final.get(key, math.nan), final.get(f"{key}_ema", math.nan)
        rows.append(row)
    write_csv(study_dir / "runs.csv", rows)
    write_csv(study_dir / "curves.csv", curves)
    table_rows = []
    measures = ((quality, f"{title}, last evaluation"), ("fid", "FID (TF-Inception), final"),
                ("kid_mean", "KID, final"), ("precision", "precision, final"), ("recall", "recall, final"))  # fmt: skip
    for key, name in measures:
        raw, averaged = [r[key] for r in rows], [r[f"{key}_ema"] for r in rows]
        differences = [b - a for a, b in zip(raw, averaged, strict=True)]
        table_rows.append([name, mean_std(raw), mean_std(averaged), mean_std(differences)])
    config = plan.runs[0].config()
    findings = [finding(rows, quality, title)]
    if all(math.isnan(r["fid"]) for r in rows):
        findings.append("No final FID was measured (log.final_metrics empty in these runs).")
    return Section(
        name=NAME,
        title="Does an EMA of the generator's weights draw better samples?",
        findings=findings,
        figures=[
            Figure(
                plot(plan, study_dir, curves, quality),
                f"{title} of the raw generator and of its EMA (beta {BETA}) against generator steps, on the "
                "same z at every evaluation; line: mean over seeds, band: min to max." + style.band_note(curves),
            )
        ],  # fmt: skip
        tables=[
            Table(
                f"Raw generator and EMA, mean ± std over {plan.seeds} seeds (difference: EMA − raw, per seed)",
                ["measure", "raw", "EMA", "EMA − raw"],
                table_rows,
                "runs.csv",
            )
        ],
        setup=[
            "WGAN-GP (Adam 1e-4 β (0, 0.9), λ = 10, n_critic 5) with the DCGAN generator with batch norm and the "
            f"DCGAN critic without normalisation, {images.length_text(config)}, evaluated "
            f"{images.evaluation_text(config)} with {config.log.eval_samples:,} samples; final metrics on "
            f"{config.log.final_samples:,} samples.",
            f"EMA: decay_t = min({BETA}, (1 + t) / (10 + t)) after generator step t, parameters averaged in fp32, "
            "batch-norm statistics copied from the raw generator (src/wganlab/training/ema.py). Training is the "
            "fast-path recipe cell's (`wgan-gp-bf16-cl`, the precision study) bit for bit (runs in "
            f"`{plan.runs_dir}`).",
        ],
    )


def finding(rows: list[dict], quality: str, title: str) -> str:
    raw = np.array([r[quality] for r in rows], dtype=float)
    averaged = np.array([r[f"{quality}_ema"] for r in rows], dtype=float)
    if np.isnan(raw).all() or np.isnan(averaged).all():
        return f"No evaluation of {title} was recorded."
    better = int(np.sum(averaged < raw))
    return (
        f"At the last evaluation the EMA's {title} was {fmt(np.nanmean(averaged))} against the raw generator's "
        f"{fmt(np.nanmean(raw))} (mean over seeds); lower with the EMA in {better} of {len(rows)} seeds."
    )


def plot(plan: Plan, study_dir: Path, curves: list[dict], quality: str) -> Path:
    with style.rc():
        figure, axes = style.figure(1, 1, width=7, height=4.5)
        axis = np.atleast_1d(axes).ravel()[0]
        raw_rows = [{**r, "value": r[quality]} for r in curves]
        ema_rows = [{**r, "value": r[f"{quality}_ema"]} for r in curves]
        if curves:
            images.plot_lines(axis, raw_rows, "step", "value", style.colour("wgan-gp"), "raw generator")
            images.plot_lines(axis, ema_rows, "step", "value", style.EXTRA_COLOURS[0], f"EMA (β {BETA})", "--")
        axis.set(xlabel="generator step", ylabel=images.headline_title(plan.settings))
        axis.set_yscale("log")
        style.plain_log_ticks(axis, "y")
        axis.legend(loc="upper right")
        return save_figure(figure, study_dir, "quality")
