"""Quality against generator steps and against wall-clock time (WGAN-GP paper, sec. 5.2 and Fig. 3, where
WGAN-GP "converges more slowly (in wall-clock time) than DCGAN, but its score is more stable at convergence"):
the same networks trained as a GAN (Adam), a WGAN with clipping (RMSProp), WGAN-GP (Adam) and WGAN-GP (RMSProp).

The reference code has no RMSProp setting for WGAN-GP (only sample files name one); this study gives it WGAN's
RMSProp at 5e-5, so that the two WGAN-GP runs differ in the optimiser only from each other, and in the
constraint only from WGAN.
"""

from pathlib import Path

from wganlab.studies import images, style
from wganlab.studies.report import Figure, Section, Table, fmt, save_figure, write_csv
from wganlab.studies.runner import Plan

NAME = "quality-vs-time"
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


def summary(run, folder: Path) -> str:
    from wganlab.studies.loss_vs_quality_images import summary as quality_summary

    return quality_summary(run, folder)


def collect(plan: Plan, study_dir: Path) -> Section:
    quality = images.headline(plan.settings)
    curves = images.curves(plan, study_dir, quality)
    write_csv(study_dir / "curves.csv", curves)
    rows, table = images.final_table(plan, study_dir, CELLS, quality, label)
    write_csv(study_dir / "runs.csv", rows)
    loads = [r["load_1min"] for r in curves if r["load_1min"] == r["load_1min"]]
    findings = [
        "Seconds per generator step (training only, mean over seeds): "
        + ", ".join(f"{label(c)} {row[4]}" for c, row in zip(CELLS, table, strict=True))
        + ".",
        f"The machine's 1-minute load average during these runs was {fmt(min(loads))} to {fmt(max(loads))} on 2 cores "
        "(2 means the two runs alone); wall-clock comparisons are only as clean as that."
        if loads
        else "",
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
                "over seeds, band: min to max.",
            )
        ],  # fmt: skip
        tables=[
            Table(
                f"At the end (mean ± std over {plan.seeds} seeds)",
                [
                    "objective (optimiser)",
                    images.headline_title(plan.settings),
                    "FID",
                    "recall",
                    "s / generator step",
                    "diverged",
                ],
                table,
                "runs.csv",
            )
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


def plot(plan: Plan, study_dir: Path, curves: list[dict], quality: str) -> Path:
    with style.rc():
        figure, axes = style.figure(1, 2, width=13, height=4.4, sharey=True)
        for cell in CELLS:
            rows = [r for r in curves if (r["objective"], r["variant"]) == (cell.objective, cell.variant)]
            line = "--" if cell.variant else "-"
            for axis, x in zip(axes[0], ("step", "train_seconds"), strict=True):
                images.plot_lines(axis, rows, x, quality, style.colour(cell.objective), label(cell), line)
        axes[0, 0].set(xlabel="generator step", ylabel=images.headline_title(plan.settings), yscale="log")
        axes[0, 1].set(xlabel="training wall-clock (s)")
        axes[0, 1].legend(loc="upper right")
        return save_figure(figure, study_dir, "quality_vs_time")
