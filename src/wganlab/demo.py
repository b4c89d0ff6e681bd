"""`wganlab demo`: GAN, WGAN and WGAN-GP trained on 8 Gaussians side by side, in a few minutes on a CPU.

Writes one PNG (samples over time and the loss/quality curves of each objective) and a short Markdown
summary of the measured numbers, plus the three run folders. The runs are the shipped presets
(`eight_gaussians/<objective>`); an existing demo folder is reused (finished runs) or resumed (killed ones),
never wiped.
"""

import dataclasses
import time
from pathlib import Path

from wganlab.errors import ConfigError
from wganlab.objectives import estimate_name
from wganlab.studies.common import style
from wganlab.studies.common.runner import Plan, StudyError, cpu_count, execute
from wganlab.studies.common.toys import real_points, snapshots, training_runs
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


def run_demo(out: Path, steps: int | None = None, jobs: int | None = None) -> Path:
    """Train the three runs side by side (`jobs` at a time, one CPU share each; default: as many as there are
    cores, up to three; a core freed once every run has started goes to the runs still going), then draw
    demo.png and write summary.md. Prints one progress line with the time left."""
    steps = DEFAULT_STEPS if steps is None else steps
    if steps < 1:
        raise ConfigError(f"--steps {steps} must be at least 1")
    plan = demo_plan(steps)
    out.mkdir(parents=True, exist_ok=True)
    jobs = jobs or max(1, min(len(plan.runs), cpu_count()))
    print(f"wganlab demo: GAN, WGAN and WGAN-GP on 8 Gaussians, {steps} generator steps each, {jobs} at a time "
          f"(run folders in {out}/)", flush=True)  # fmt: skip
    started = time.perf_counter()
    # The toy MLPs' results do not depend on the thread count (training/threads.py), so the core that GAN and WGAN
    # leave free goes to WGAN-GP, the longest run, for its last minute.
    failed = execute(plan, out, jobs=jobs, progress=True, lend_free_cores=True)
    if failed:
        raise StudyError(f"demo run(s) {', '.join(failed)} failed; {out}/<run>/console.txt says why")
    folders = {run.label("objective"): plan.folder(out, run) for run in plan.runs}
    seconds = {
        objective: (RunFolder(folder).outcome() or {}).get("seconds", 0.0) for objective, folder in folders.items()
    }
    figure = draw_figure(folders, out)
    report = out / "summary.md"
    report.write_text(summary(folders, seconds, steps))
    print(f"wrote {figure} (samples at four steps, the critic's estimate and the exact W1 over training) and "
          f"{report} (the numbers); {time.perf_counter() - started:.0f} s in all", flush=True)  # fmt: skip
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
            what = "discriminator's JS estimate" if name == "js_estimate" else "critic's W estimate"
            axis.set(title=f"{style.title(objective)}: {what}", xlabel="generator step", ylabel=name)
            axis = axes[row, SNAPSHOTS + 1]
            axis.plot([r["step"] for r in evals], [r["w1"] for r in evals], marker="o", ms=3, color=colour)
            axis.set(title=f"{style.title(objective)}: exact W1 to the data", xlabel="generator step", ylabel="W1")
        top = max(max(r["w1"] for r in RunFolder(folder).records("eval")) for folder in folders.values())
        for row in range(len(folders)):  # one W1 scale for every row, so the objectives compare at a glance
            axes[row, SNAPSHOTS + 1].set_ylim(0, top * 1.05)
        figure.suptitle("GAN, WGAN and WGAN-GP on 8 Gaussians (grey: data; colour: generated from one fixed z)")
        figure.savefig(out / "demo.png", dpi=100)
    return out / "demo.png"


def summary(folders: dict[str, Path], seconds: dict[str, float], steps: int) -> str:
    lines = [
        "# wganlab demo: GAN, WGAN and WGAN-GP on 8 Gaussians",
        "",
        f"Each objective trained for {steps} generator steps with its preset",
        "(`wganlab train eight_gaussians/<objective>`: MLP 2-512-512-512, batch 256, its paper's optimiser and",
        "critic updates), seed 0.",
        "",
        "![samples and curves](demo.png)",
        "",
        "| objective | final W1 | best W1 | modes hit (of 8) | share near a mode | critic's W estimate "
        "| discriminator's JS estimate | seconds |",
        "|---|---|---|---|---|---|---|---|",
    ]
    finals = {}
    for objective, folder in folders.items():
        run = RunFolder(folder)
        evals, trains = run.records("eval"), run.records("train")
        last = evals[-1]
        name = estimate_name(objective)
        estimate = f"{trains[-1][name]:.3f}"
        w_estimate, js_estimate = (estimate, "–") if name == "w_estimate" else ("–", estimate)
        finals[objective] = last["w1"]
        lines.append(
            f"| {objective} | {last['w1']:.3f} | {min(r['w1'] for r in evals):.3f} | {int(last['modes_hit'])} | "
            f"{last['high_quality_share']:.2f} | {w_estimate} | {js_estimate} | {seconds[objective]:.0f} |"
        )
    best = min(finals, key=finals.get)
    lines += [
        "",
        "- **W1**: the exact Wasserstein-1 distance (POT) between 1,000 generated and 1,000 real points, measured at",
        "  each evaluation; lower is better, 0 is the data itself.",
        "- **modes hit**: a mode counts when at least 0.8 % of the samples lie within 3 standard deviations of its",
        "  centre (the unrolled-GAN and PacGAN protocol). **share near a mode**: the fraction of samples within 3",
        '  standard deviations of their nearest centre (PacGAN\'s "high-quality samples"); 1 means no sample lies',
        "  between the modes.",
        "- **critic's W estimate** (WGAN, WGAN-GP): E[f(real)] − E[f(fake)] on the last training batches. WGAN-GP's",
        "  approximates W1 itself; WGAN's clipped critic estimates W1 times an unknown Lipschitz bound, so only its",
        "  trend says something. **discriminator's JS estimate** (GAN): (V + log 4) / 2 from the discriminator's",
        "  loss, the Jensen-Shannon divergence when the discriminator is optimal; at most log 2 = 0.693. The two are",
        "  different quantities and are not compared with each other.",
        "- **seconds**: wall-clock training time of the run (the runs shared the CPU cores).",
        "",
        f"Lowest final W1: {best} ({finals[best]:.3f}). These are single runs of seed 0; "
        "`wganlab study toy-training` repeats them over seeds (and adds SNGAN).",
        "",
    ]
    return "\n".join(lines)
