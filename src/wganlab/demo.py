"""`wganlab demo`: GAN, WGAN and WGAN-GP trained on 8 Gaussians side by side, in a few minutes on a CPU.

Writes one PNG (samples over time and the loss/quality curves of each objective) and a short Markdown
summary of the measured numbers, plus the three run folders. The runs are the shipped presets
(`eight_gaussians/<objective>`); an existing demo folder is reused (finished runs) or resumed (killed ones),
never wiped.
"""

import dataclasses
import time
from pathlib import Path

from wganlab.config import load_config
from wganlab.errors import ConfigError
from wganlab.objectives import estimate_name
from wganlab.studies.common import style
from wganlab.studies.common.runner import Plan, state
from wganlab.studies.common.toys import real_points, snapshots, training_runs
from wganlab.training.loop import train
from wganlab.training.run_folder import RunFolder

OBJECTIVES = ("gan", "wgan", "wgan-gp")
DEFAULT_STEPS = 1200
SNAPSHOTS = 4


def demo_plan(steps: int) -> Plan:
    runs = training_runs(
        ("eight_gaussians",),
        OBJECTIVES,
        1,
        steps=steps,
        eval_every=max(steps // 15, 1),
        eval_samples=1000,
        snapshots=SNAPSHOTS,
        extra=("log.tensorboard=true",),
    )
    # One folder per objective right under the demo folder: demo/gan, demo/wgan, demo/wgan-gp.
    runs = [dataclasses.replace(run, key=run.label("objective")) for run in runs]
    return Plan("demo", "default", 1, runs, {"steps": steps}, runs_dir=".")


def run_demo(out: Path, steps: int | None = None) -> Path:
    steps = DEFAULT_STEPS if steps is None else steps
    if steps < 1:
        raise ConfigError(f"--steps {steps} must be at least 1")
    plan = demo_plan(steps)
    out.mkdir(parents=True, exist_ok=True)
    seconds = {}
    for run in plan.runs:
        objective, folder = run.label("objective"), plan.folder(out, run)
        status = state(plan, run, out)  # raises if the folder holds a run with other settings
        started = time.perf_counter()
        if status != "done":
            print(f"training {objective} on 8 Gaussians for {steps} steps", flush=True)
            config = load_config(run.preset, [*run.overrides, "log.progress=true"])
            train(config, folder, resume=status == "partial")
        else:
            print(f"{objective}: reusing the finished run in {folder}", flush=True)
        outcome = RunFolder(folder).outcome() or {}
        seconds[objective] = outcome.get("seconds", time.perf_counter() - started)
    folders = {run.label("objective"): plan.folder(out, run) for run in plan.runs}
    draw_figure(folders, out)
    report = out / "summary.md"
    report.write_text(summary(folders, seconds, steps))
    return report


def draw_figure(folders: dict[str, Path], out: Path) -> Path:
    real = real_points("eight_gaussians")
    with style.rc():
        figure, axes = style.figure(len(folders), SNAPSHOTS + 2, width=3.0 * (SNAPSHOTS + 2), height=3.0 * len(folders))
        for row, (objective, folder) in enumerate(folders.items()):
            colour = style.colour(objective)
            for column, (step, fake) in enumerate(snapshots(folder)[-SNAPSHOTS:]):
                axis = axes[row, column]
                axis.scatter(real[:, 0], real[:, 1], s=2, color=style.REAL_COLOUR, alpha=0.35)
                axis.scatter(fake[:, 0], fake[:, 1], s=2, color=colour, alpha=0.5)
                axis.set(
                    title=f"{style.title(objective)}, step {step:,}", xlabel="x₁", ylabel="x₂" if column == 0 else None
                )
            style.fixed_square_limits(axes[row, :SNAPSHOTS], 2.2)
            run = RunFolder(folder)
            trains, evals = run.records("train"), run.records("eval")
            name = estimate_name(objective)
            axis = axes[row, SNAPSHOTS]
            axis.plot([r["step"] for r in trains], [r[name] for r in trains], color=colour)
            axis.set(title=f"{style.title(objective)}: critic's {name}", xlabel="generator step", ylabel=name)
            axis = axes[row, SNAPSHOTS + 1]
            axis.plot([r["step"] for r in evals], [r["w1"] for r in evals], marker="o", ms=3, color=colour)
            axis.set(title=f"{style.title(objective)}: exact W1 to the data", xlabel="generator step", ylabel="W1")
            axis.set_ylim(bottom=0)
        figure.suptitle("GAN, WGAN and WGAN-GP on 8 Gaussians (grey: data; colour: generated from one fixed z)")
        figure.savefig(out / "demo.png", dpi=100)
    return out / "demo.png"


def summary(folders: dict[str, Path], seconds: dict[str, float], steps: int) -> str:
    lines = [
        "# wganlab demo: GAN, WGAN and WGAN-GP on 8 Gaussians",
        "",
        f"Each objective trained for {steps} generator steps with its preset",
        "(`wganlab train eight_gaussians/<objective>`:",
        "MLP 2-512-512-512, batch 256, its paper's optimiser); W1 is the exact Wasserstein-1 distance (POT) between",
        "1,000 generated and 1,000 real points.",
        "",
        "![samples and curves](demo.png)",
        "",
        "| objective | final W1 | best W1 | modes hit (of 8) | high-quality share | critic estimate | seconds |",
        "|---|---|---|---|---|---|---|",
    ]
    finals = {}
    for objective, folder in folders.items():
        run = RunFolder(folder)
        evals, trains = run.records("eval"), run.records("train")
        last = evals[-1]
        estimate = trains[-1][estimate_name(objective)]
        finals[objective] = last["w1"]
        lines.append(
            f"| {objective} | {last['w1']:.3f} | {min(r['w1'] for r in evals):.3f} | {int(last['modes_hit'])} | "
            f"{last['high_quality_share']:.2f} | {estimate:.3f} | {seconds[objective]:.0f} |"
        )
    best = min(finals, key=finals.get)
    lines += [
        "",
        f"Lowest final W1: {best} ({finals[best]:.3f}). These are single runs of seed 0; "
        "`wganlab study toy-training` repeats them over seeds (and adds SNGAN).",
        "",
    ]
    return "\n".join(lines)
