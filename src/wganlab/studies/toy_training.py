"""GAN, WGAN and WGAN-GP trained on 8 Gaussians, 25 Gaussians and the Swiss roll with the same networks.

Every run is `training.loop.train` on the shipped preset `configs/<toy>/<objective>.toml`, with evaluation
(exact W1 by POT, modes hit, high-quality share) every `eval_every` steps and a checkpoint at a quarter, half,
three quarters and the end, from which the scatter plots are regenerated with one fixed z.
"""

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch

from wganlab.config import RunConfig, load_config, to_toml
from wganlab.studies.report import Figure, Section, Table, fmt, mean_std, save_figure, write_csv
from wganlab.training.loop import train
from wganlab.training.run_folder import RunFolder
from wganlab.training.samples import plot_points
from wganlab.training.state import make_rng

CONFIGS = Path(__file__).resolve().parents[3] / "configs"
TOYS = ("eight_gaussians", "twenty_five_gaussians", "swiss_roll")
TOY_TITLES = {
    "eight_gaussians": "8 Gaussians",
    "twenty_five_gaussians": "25 Gaussians",
    "swiss_roll": "Swiss roll",
}
OBJECTIVES = ("gan", "wgan", "wgan-gp")
ESTIMATE = {"gan": "js_estimate", "wgan": "w_estimate", "wgan-gp": "w_estimate"}
COLOURS = {"gan": "tab:red", "wgan": "tab:blue", "wgan-gp": "tab:green"}


def plan(quick: bool, seeds: int | None) -> dict:
    """The runs of the study: quick is one toy, 2 seeds and 60 steps; full is the presets' 3,000 steps."""
    if quick:
        return {"toys": TOYS[:1], "seeds": seeds or 2, "steps": 60, "eval_every": 10, "eval_samples": 500}
    return {"toys": TOYS, "seeds": seeds or 5, "steps": None, "eval_every": 100, "eval_samples": 2000}


def run_config(toy: str, objective: str, seed: int, settings: dict) -> RunConfig:
    base = load_config(CONFIGS / toy / f"{objective}.toml")
    steps = settings["steps"] or base.train.steps
    every = settings["eval_every"]
    overrides = [
        f"train.steps={steps}",
        f"train.seed={seed}",
        "train.device=cpu",  # CPU runs are bitwise reproducible, so a rerun writes the same numbers
        f"log.log_every={every}",  # a train record at every eval step, for loss-vs-quality
        f"log.eval_every={every}",
        f"log.eval_samples={settings['eval_samples']}",
        f"log.sample_every={steps}",
        f"log.checkpoint_every={max(1, steps // 4)}",
        "log.keep_checkpoints=8",
        "log.progress=false",
        "log.tensorboard=false",
    ]
    return load_config(CONFIGS / toy / f"{objective}.toml", overrides)


def train_runs(runs: Path, settings: dict) -> list[Path]:
    """Train every (toy, objective, seed) not already finished in `runs` with the same config."""
    folders = []
    for toy in settings["toys"]:
        for objective in OBJECTIVES:
            for seed in range(settings["seeds"]):
                config = run_config(toy, objective, seed, settings)
                folder = runs / toy / objective / f"seed-{seed}"
                if not is_finished(folder, config):
                    train(config, folder, resume=RunFolder(folder).holds_run(), progress=False)
                folders.append(folder)
    return folders


def is_finished(folder: Path, config: RunConfig) -> bool:
    final = folder / "checkpoints" / f"step-{config.train.steps:08d}.pt"
    config_file = folder / "config.toml"
    return final.exists() and config_file.exists() and config_file.read_text() == to_toml(config)


def read_metrics(folder: Path) -> tuple[list[dict], list[dict]]:
    """(train records, eval records) of a run's metrics.jsonl."""
    run = RunFolder(folder)
    return run.records("train"), run.records("eval")


def snapshots(folder: Path, n: int = 1000) -> list[tuple[int, torch.Tensor]]:
    """(step, samples) from every step checkpoint of a run, all drawn from the same fixed z."""
    run = RunFolder(folder)
    config = run.read_config()
    z = torch.randn(n, config.model.z_dim, generator=make_rng(config.train.seed, "grid"))
    with torch.no_grad():
        return [(step, generator(z)) for step, generator in run.generator_snapshots()]


def run(out: Path, *, quick: bool, seeds: int | None) -> Section:
    settings = plan(quick, seeds)
    train_runs(out / "runs", settings)
    final_rows, curve_rows = collect(out / "runs", settings)
    write_csv(out / "final.csv", final_rows)
    write_csv(out / "curves.csv", curve_rows)
    figures = []
    for toy in settings["toys"]:
        figures.append(Figure(plot_scatter(out, toy), f"{TOY_TITLES[toy]}: samples (blue) over real data "
                              "(orange) at four steps, seed 0, the same z in every panel."))  # fmt: skip
        figures.append(Figure(plot_curves(out, toy, curve_rows), f"{TOY_TITLES[toy]}: exact W1 and each "
                              "objective's own loss estimate over training (mean and min–max over "
                              "seeds)."))  # fmt: skip
    return section(final_rows, settings, figures)


def collect(runs: Path, settings: dict) -> tuple[list[dict], list[dict]]:
    final_rows, curve_rows = [], []
    for toy in settings["toys"]:
        for objective in OBJECTIVES:
            for seed in range(settings["seeds"]):
                folder = runs / toy / objective / f"seed-{seed}"
                trains, evals = read_metrics(folder)
                estimates = {r["step"]: r[ESTIMATE[objective]] for r in trains}
                for r in evals:
                    curve_rows.append(
                        {
                            "toy": toy,
                            "objective": objective,
                            "seed": seed,
                            "step": r["step"],
                            "w1": r["w1"],
                            "estimate_name": ESTIMATE[objective],
                            "estimate": estimates.get(r["step"], float("nan")),
                        }
                    )
                last = evals[-1]
                final_rows.append(
                    {
                        "toy": toy,
                        "objective": objective,
                        "seed": seed,
                        "step": last["step"],
                        "w1": last["w1"],
                        "modes_hit": last.get("modes_hit", float("nan")),
                        "modes_total": last.get("modes_total", float("nan")),
                        "high_quality_share": last.get("high_quality_share", float("nan")),
                    }
                )
    return final_rows, curve_rows


def plot_scatter(out: Path, toy: str) -> Path:
    from wganlab.data.toy import sample_toy

    real = sample_toy(toy, 1000, 0.0, make_rng(0, "grid", offset=1), torch.device("cpu"))
    per_objective = {o: snapshots(out / "runs" / toy / o / "seed-0") for o in OBJECTIVES}
    columns = max(len(s) for s in per_objective.values())
    figure, axes = plt.subplots(
        len(OBJECTIVES), columns, figsize=(2.9 * columns, 2.9 * len(OBJECTIVES)), layout="constrained",
        squeeze=False,
    )  # fmt: skip
    for row, objective in enumerate(OBJECTIVES):
        for col, (step, fake) in enumerate(per_objective[objective]):
            plot_points(axes[row, col], fake, real, title=f"{objective.upper()}, step {step}")
    limit = float(real.abs().max()) * 1.6
    for axis in axes.flat:
        axis.set_aspect("equal", adjustable="box")  # same square window in every panel
        axis.set_xlim(-limit, limit)
        axis.set_ylim(-limit, limit)
        axis.tick_params(labelsize=7)
    return save_figure(figure, out, f"samples_{toy}")


def plot_curves(out: Path, toy: str, curve_rows: list[dict]) -> Path:
    figure, axes = plt.subplots(1, 4, figsize=(17, 3.8), layout="constrained")
    panels = [
        (axes[0], None, "w1", "exact W1 (POT) to real samples"),
        (axes[1], "gan", "estimate", "GAN: JS estimate (log 4 − loss)/2"),
        (axes[2], "wgan", "estimate", "WGAN: W estimate (critic)"),
        (axes[3], "wgan-gp", "estimate", "WGAN-GP: W estimate (critic)"),
    ]
    for axis, only, key, title in panels:
        for objective in OBJECTIVES if only is None else (only,):
            rows = [r for r in curve_rows if r["toy"] == toy and r["objective"] == objective]
            steps = sorted({r["step"] for r in rows})
            values = np.array([[r[key] for r in rows if r["step"] == s] for s in steps])
            axis.plot(steps, values.mean(axis=1), color=COLOURS[objective], label=objective.upper())
            axis.fill_between(steps, values.min(axis=1), values.max(axis=1), color=COLOURS[objective], alpha=0.2)
        axis.set(title=title, xlabel="generator step")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    axes[0].set_ylabel("value")
    return save_figure(figure, out, f"curves_{toy}")


def section(final_rows: list[dict], settings: dict, figures: list[Figure]) -> Section:
    rows, best = [], {}
    for toy in settings["toys"]:
        for objective in OBJECTIVES:
            group = [r for r in final_rows if r["toy"] == toy and r["objective"] == objective]
            w1 = [r["w1"] for r in group]
            has_modes = not np.isnan(group[0]["modes_hit"])
            rows.append(
                [
                    TOY_TITLES[toy],
                    objective.upper(),
                    mean_std(w1),
                    mean_std([r["modes_hit"] for r in group]) + f" / {int(group[0]['modes_total'])}"
                    if has_modes
                    else "–",
                    mean_std([r["high_quality_share"] for r in group]) if has_modes else "–",
                ]
            )
            best.setdefault(toy, []).append((float(np.mean(w1)), objective))
    steps = final_rows[0]["step"]
    ranking = "; ".join(
        f"{TOY_TITLES[t]}: " + " < ".join(f"{o.upper()} ({fmt(w)})" for w, o in sorted(v)) for t, v in best.items()
    )
    findings = [
        f"After {steps:,} generator steps, mean final exact W1 over {settings['seeds']} seeds ranks {ranking}.",
        "The table gives the spread over seeds and, for the mixtures, the modes hit and the share of samples "
        "within 3 std of a mode centre.",
    ]
    return Section(
        name="toy-training",
        title="GAN, WGAN and WGAN-GP on the 2-D toys",
        findings=findings,
        figures=figures,
        tables=[
            Table(
                f"Final evaluation at step {steps:,} (mean ± std over {settings['seeds']} seeds)",
                ["toy", "objective", "exact W1", "modes hit", "high-quality share"],
                rows,
                "final.csv",
            )
        ],
        setup=[
            "Each run is `wganlab.training.loop.train` on `configs/<toy>/<objective>.toml` (generator and "
            "critic "
            "2 → 512 ×3 → out, ReLU, batch 256): GAN Adam 2e-4 (0.5, 0.999), n_critic 1; WGAN RMSProp 5e-5, "
            "c = 0.01, n_critic 5; WGAN-GP Adam 1e-4 (0.5, 0.9), λ = 0.1, n_critic 5.",
            f"{steps:,} steps{' (quick)' if settings['steps'] else ' (the presets)'}, on CPU, seeds 0–"
            f"{settings['seeds'] - 1}; evaluation every {settings['eval_every']} steps on "
            f"{settings['eval_samples']:,} generated vs {settings['eval_samples']:,} real samples (exact "
            "W1 by "
            "POT's `emd2`; modes as in `metrics.transport.mode_coverage`).",
            "Scatter panels are regenerated from the step checkpoints with one fixed z. Runs live in "
            "`runs/`; a "
            "finished run with the same config is reused, not retrained.",
        ],
    )
