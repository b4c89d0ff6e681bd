"""`wganlab demo`: GAN, WGAN and WGAN-GP trained on 8 Gaussians side by side, in a few minutes on a CPU.

Writes one PNG (samples over time and the loss/quality curves of each objective) and a short Markdown
summary of the measured numbers, plus the three run folders.
"""

import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from wganlab.config import load_config  # noqa: E402
from wganlab.data.toy import sample_toy  # noqa: E402
from wganlab.training.loop import train  # noqa: E402
from wganlab.training.run_folder import RunFolder  # noqa: E402
from wganlab.training.samples import plot_points  # noqa: E402

OBJECTIVES = {
    # The same settings as configs/eight_gaussians/<name>.toml: each paper's optimiser, the toy code's batch.
    "gan": ["objective.name=gan"],
    "wgan": ["objective.name=wgan"],
    "wgan-gp": ["objective.name=wgan-gp", "objective.penalty_weight=0.1", "optim.betas=0.5,0.9"],
}
DEFAULT_STEPS = 1200
SNAPSHOTS = 4


def demo_config(objective: str, steps: int):
    interval = max(steps // SNAPSHOTS, 1)
    return load_config(
        None,
        [
            *OBJECTIVES[objective],
            "data.source=eight_gaussians",
            "model.z_dim=2",
            "train.batch_size=256",
            f"train.steps={steps}",
            "train.seed=0",
            f"log.checkpoint_every={interval}",
            f"log.keep_checkpoints={SNAPSHOTS}",
            f"log.sample_every={interval}",
            "log.log_every=25",
            f"log.eval_every={max(steps // 15, 1)}",
            "log.eval_samples=1000",
            "log.progress=true",
        ],
    )


def read_metrics(run_dir: Path, kind: str) -> list[dict]:
    return RunFolder(run_dir).records(kind)


def snapshot_samples(run_dir: Path, z: torch.Tensor) -> list[tuple[int, torch.Tensor]]:
    """Samples of the same z from each kept step checkpoint."""
    with torch.no_grad():
        return [(step, generator(z)) for step, generator in RunFolder(run_dir).generator_snapshots()]


def run_demo(out: Path, steps: int | None = None) -> Path:
    steps = steps or DEFAULT_STEPS
    out.mkdir(parents=True, exist_ok=True)
    runs, seconds = {}, {}
    for objective in OBJECTIVES:
        run_dir = out / objective
        if run_dir.exists():
            for old in run_dir.rglob("*"):
                if old.is_file():
                    old.unlink()
        print(f"training {objective} on 8 Gaussians for {steps} steps", flush=True)
        started = time.perf_counter()
        train(demo_config(objective, steps), run_dir)
        seconds[objective] = time.perf_counter() - started
        runs[objective] = run_dir
    figure_path = out / "demo.png"
    draw_figure(runs, figure_path, steps)
    report = out / "summary.md"
    report.write_text(summary(runs, seconds, steps))
    return report


def draw_figure(runs: dict[str, Path], path: Path, steps: int) -> None:
    z = torch.randn(1000, 2, generator=torch.Generator().manual_seed(123))
    real = sample_toy("eight_gaussians", 1000, 0.0, torch.Generator().manual_seed(7), torch.device("cpu"))
    figure, axes = plt.subplots(len(runs), SNAPSHOTS + 2, figsize=(3.0 * (SNAPSHOTS + 2), 3.0 * len(runs)), dpi=100)
    for row, (objective, run_dir) in enumerate(runs.items()):
        for column, (step, fake) in enumerate(snapshot_samples(run_dir, z)[-SNAPSHOTS:]):
            axis = axes[row, column]
            plot_points(axis, fake, real, f"{objective.upper()}, step {step}", legend=False)
            axis.set_xlim(-2.2, 2.2)
            axis.set_ylim(-2.2, 2.2)
        train_rows, eval_rows = read_metrics(run_dir, "train"), read_metrics(run_dir, "eval")
        estimate = "js_estimate" if objective == "gan" else "w_estimate"
        axis = axes[row, SNAPSHOTS]
        axis.plot([r["step"] for r in train_rows], [r[estimate] for r in train_rows], color="tab:purple")
        axis.set_title(f"{objective.upper()}: critic's {'JS' if objective == 'gan' else 'W'} estimate", fontsize=10)
        axis.set_xlabel("generator step")
        axis = axes[row, SNAPSHOTS + 1]
        axis.plot([r["step"] for r in eval_rows], [r["w1"] for r in eval_rows], marker="o", color="tab:green")
        axis.set_title(f"{objective.upper()}: exact W1 to the data", fontsize=10)
        axis.set_xlabel("generator step")
        axis.set_ylim(bottom=0)
    figure.suptitle("GAN, WGAN and WGAN-GP on 8 Gaussians (orange: data, blue: generated from a fixed z)")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def summary(runs: dict[str, Path], seconds: dict[str, float], steps: int) -> str:
    lines = [
        "# wganlab demo: GAN, WGAN and WGAN-GP on 8 Gaussians",
        "",
        f"Each objective trained for {steps} generator steps (batch 256, MLP 2-512-512-512) with its paper's",
        "optimiser; W1 is the exact Wasserstein-1 distance (POT) between 1,000 generated and 1,000 real points.",
        "",
        "![samples and curves](demo.png)",
        "",
        "| objective | final W1 | best W1 | modes hit (of 8) | high-quality share | critic estimate | seconds |",
        "|---|---|---|---|---|---|---|",
    ]
    finals = {}
    for objective, run_dir in runs.items():
        evals, trains = read_metrics(run_dir, "eval"), read_metrics(run_dir, "train")
        last = evals[-1]
        estimate = trains[-1]["js_estimate" if objective == "gan" else "w_estimate"]
        finals[objective] = last["w1"]
        lines.append(
            f"| {objective} | {last['w1']:.3f} | {min(r['w1'] for r in evals):.3f} | {int(last['modes_hit'])} | "
            f"{last['high_quality_share']:.2f} | {estimate:.3f} | {seconds[objective]:.0f} |"
        )
    best = min(finals, key=finals.get)
    lines += [
        "",
        f"Lowest final W1: {best} ({finals[best]:.3f}). These are single runs of seed 0; "
        "`wganlab study toy-training` repeats them over seeds.",
        "",
    ]
    return "\n".join(lines)
