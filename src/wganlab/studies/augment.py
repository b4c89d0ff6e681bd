"""DiffAugment on a small colour set (issue 34): does augmenting every critic input (Zhao et al. 2020: colour,
translation, cutout) improve FID when the training set is small?

Twemoji (4,009 colour emoji, built offline from the pinned wheel, as the colour study does) at 32 px by default,
with the DCGAN generator with batch norm and the DCGAN critic (the GAN's discriminator with batch norm, WGAN-GP's
critic without normalisation), each objective at its published recipe, trained with `train.augment` off and with
the paper's policy (color,translation,cutout), 3 seeds. FID (TF-Inception) against the training images during
training on a few hundred samples, and FID, KID and precision/recall at the end; Twemoji has no test split, so
every FID is against the same 4,009 training images, as the DiffAugment paper measures its few-shot sets.

The same seed draws the same initial weights, data order and noise with augmentation on or off (the
augmentation has its own random stream, tests/training/test_augment.py), so runs pair by seed.
"""

import math
from pathlib import Path

import numpy as np

from wganlab.studies import colour
from wganlab.studies.common import images, style
from wganlab.studies.common.report import Figure, Section, Table, fmt, mean_std, save_figure, write_csv
from wganlab.studies.common.runner import Plan, Run, folder_name
from wganlab.training.run_folder import RunFolder
from wganlab.training.samples import image_grid

NAME = "augment"
KIND = "image"
TAKES_DATA = True
POLICY = "color,translation,cutout"
OBJECTIVES = ("gan", "wgan-gp")
# Seconds per generator step on one idle core at 32 px, 32 channels, batch 64 (the Fashion-MNIST cell's, with 3
# input channels instead of 1): only orders the runs, the most expensive first.
SECONDS_PER_STEP = {"gan": 0.12, "wgan-gp": 0.65}
SIZES = {
    "quick": {"seeds": 1, "steps": 20, "evaluations": 2, "eval_samples": 32, "final_samples": 32, "channels": 8,
              "image_size": 32, "batch": 16},
    # default: 3,000 generator steps (as the Fashion-MNIST studies), FID on 250 samples every 500 steps (the
    # Inception network costs 0.15-0.3 s per image on one core: small, biased but alike for both arms), final
    # metrics on 2,000 samples.
    "default": {"seeds": 3, "steps": 3000, "evaluations": 6, "eval_samples": 250, "final_samples": 2000,
                "channels": 32, "image_size": 32, "batch": 64, "fast": True},
    # paper: 64 px and DCGAN's 64 channels for 20,000 generator steps, final metrics on every training image.
    "paper": {"seeds": 3, "steps": 20_000, "evaluations": 20, "eval_samples": 2000, "final_samples": 4009,
              "channels": 64, "image_size": 64, "batch": 64, "fast": True},
}  # fmt: skip


def setting_key(objective: str, augmented: bool) -> str:
    critic = "batch" if objective == "gan" else "none"
    return f"dcgan-bn-{critic}/{objective}" + ("-diffaugment" if augmented else "")


def setting_run(objective: str, augmented: bool, seed: int, s: dict) -> Run:
    steps, every = s["steps"], max(1, s["steps"] // s["evaluations"])
    data = colour.data_overrides({**s, "image_size": s["image_size"]})
    overrides = (
        *data,
        "model.architecture=dcgan", "model.z_dim=128", f"model.channels={s['channels']}",
        "model.generator_norm=batch", f"model.critic_norm={'batch' if objective == 'gan' else 'none'}",
        *((f"train.augment={POLICY}",) if augmented else ()), *(images.fast_path(objective) if s.get("fast") else ()),
        f"train.seed={seed}", f"train.batch_size={s['batch']}", f"train.steps={steps}",
        f"log.eval_every={every}", f"log.log_every={every}", f"log.sample_every={max(1, steps // 4)}",
        f"log.checkpoint_every={max(1, steps // 4)}", "log.keep_checkpoints=2",
        "log.eval_metrics=fid", f"log.eval_samples={s['eval_samples']}",
        "log.final_metrics=fid,kid,pr", f"log.final_samples={s['final_samples']}", "log.tensorboard=false",
    )  # fmt: skip
    labels = (("objective", objective), ("augment", POLICY if augmented else "none"), ("seed", seed))
    cost = SECONDS_PER_STEP[objective] * steps * (s["image_size"] / 32) ** 2
    key = f"{setting_key(objective, augmented)}/seed-{seed}"
    return Run(key=key, preset=f"fashion_mnist/{objective}", overrides=overrides, cost=cost, labels=labels)


def plan(size: str, seeds: int | None, data: str | None = None) -> Plan:
    images.check_data(data)
    s = {**SIZES[size], "seeds": seeds or SIZES[size]["seeds"], "data": data or ""}
    runs = [setting_run(o, a, seed, s) for o in OBJECTIVES for a in (False, True) for seed in range(s["seeds"])]
    suffix = "" if not data else "-" + Path(data).stem.replace("/", "-")
    return Plan(NAME, size, s["seeds"], runs, s, runs_dir=f"../{folder_name('augment-runs', size)}{suffix}")


prepare = colour.prepare  # Twemoji into the user cache when it is not there (nothing with --data)
summary = images.run_summary  # the line printed as each run finishes
FINAL_KEYS = ("fid", "kid_mean", "precision", "recall")


def collect(plan: Plan, study_dir: Path) -> Section:
    rows, curves = [], []
    for run in plan.runs:
        folder = RunFolder(plan.folder(study_dir, run))
        outcome, final, evals = folder.outcome() or {}, images.final_record(folder.path), folder.records("eval")
        curves += [{**dict(run.labels), "step": r["step"], "fid": r["fid"]} for r in evals]
        rows.append({**dict(run.labels), "status": outcome.get("status", "unknown"),
                     "fid_last_eval": evals[-1]["fid"] if evals else math.nan,
                     **{k: final.get(k, math.nan) for k in FINAL_KEYS},
                     "sec_per_step": outcome.get("sec_per_step", math.nan)})  # fmt: skip
    write_csv(study_dir / "runs.csv", rows)
    write_csv(study_dir / "curves.csv", curves)
    objectives = [o for o in OBJECTIVES if any(r["objective"] == o for r in rows)]
    table, findings = [], []
    for objective in objectives:
        plain, augmented = (sorted((r for r in rows if r["objective"] == objective and (r["augment"] != "none") == a),
                                   key=lambda r: r["seed"]) for a in (False, True))  # fmt: skip
        for key, name in (("fid", "FID, final"), ("kid_mean", "KID, final"), ("precision", "precision, final"),
                          ("recall", "recall, final"), ("sec_per_step", "s / generator step")):  # fmt: skip
            a, b = [r[key] for r in plain], [r[key] for r in augmented]
            difference = mean_std([y - x for x, y in zip(a, b, strict=True)]) if len(a) == len(b) else "n/a"
            table.append([style.title(objective), name, mean_std(a), mean_std(b), difference])
        findings.append(finding(objective, [r["fid"] for r in plain], [r["fid"] for r in augmented]))
    config = plan.runs[0].config()
    return Section(
        name=NAME,
        title="DiffAugment on a small colour set",
        findings=findings,
        figures=[
            Figure(
                plot_samples(plan, study_dir, objectives),
                "Samples of seed 0 at the end of training (the run's fixed grid noise, 36 of 64), without (left) and "
                "with DiffAugment (right): augmentations that leaked into the generator would show in its samples "
                "(shifted content, cut-out squares, colour casts).",
            ),
            Figure(
                plot(study_dir, curves, objectives),
                "TF-Inception FID (against the training images, on "
                f"{config.log.eval_samples:,} samples) over training, without and with DiffAugment ({POLICY}); "
                "line: mean over seeds, band: min to max." + style.band_note(curves),
            ),
        ],
        tables=[
            Table(
                f"Without and with DiffAugment, mean ± std over {plan.seeds} seeds (difference: with − without, "
                "per seed)",
                ["objective", "measure", "without", "with DiffAugment", "with − without"],
                table,
                "runs.csv",
            )
        ],
        setup=[
            f"Twemoji ({config.data.image_size} px RGB on white, 4,009 images) unless --data; DCGAN generator with "
            f"batch norm, {config.model.channels} base channels, z 128, batch {config.train.batch_size}; GAN (Adam "
            "2e-4 β (0.5, 0.999), discriminator with batch norm) and WGAN-GP (Adam 1e-4 β (0, 0.9), λ 10, n_critic "
            f"5, critic without normalisation), {config.train.steps:,} generator steps; final metrics on "
            f"{config.log.final_samples:,} samples (runs in `{plan.runs_dir}`).",
            f"DiffAugment (train.augment={POLICY}): every real and fake image the critic sees, in both updates, "
            "through a random brightness, saturation and contrast change, a translation of up to 1/8 of the size "
            "with zero padding and a cutout of half the size; WGAN-GP's penalty differentiates the critic behind a "
            "fresh augmentation at the un-augmented interpolates (src/wganlab/training/augment.py).",
        ],
    )


def finding(objective: str, plain: list[float], augmented: list[float]) -> str:
    a, b = np.array(plain, dtype=float), np.array(augmented, dtype=float)
    if not (np.isfinite(a).any() and np.isfinite(b).any()):
        return f"{style.title(objective)}: no final FID was measured."
    better = int(np.sum(b < a)) if len(a) == len(b) else 0
    return (
        f"{style.title(objective)}: final FID {fmt(np.nanmean(b))} with DiffAugment against {fmt(np.nanmean(a))} "
        f"without (mean over seeds); lower with it in {better} of {len(a)} seeds."
    )


def plot(study_dir: Path, curves: list[dict], objectives: list[str]) -> Path:
    with style.rc():
        figure, axes = style.figure(1, max(1, len(objectives)), width=5.5 * max(1, len(objectives)), height=4.2)
        for axis, objective in zip(axes[0], objectives, strict=False):
            for augmented, line, name in ((False, "-", "without"), (True, "--", "with DiffAugment")):
                rows = [r for r in curves if r["objective"] == objective and (r["augment"] != "none") == augmented]
                colour_ = style.colour(objective) if not augmented else style.EXTRA_COLOURS[0]
                images.plot_lines(axis, rows, "step", "fid", colour_, name, line)
            axis.set(title=style.title(objective), xlabel="generator step", ylabel="FID (TF-Inception)")
            axis.legend(loc="upper right")
        return save_figure(figure, study_dir, "fid")


def plot_samples(plan: Plan, study_dir: Path, objectives: list[str]) -> Path:
    with style.rc():
        figure, axes = style.figure(max(1, len(objectives)), 2, width=10, height=5.3 * max(1, len(objectives)))
        for axis in axes.flat:
            axis.axis("off")
        for row, objective in zip(axes, objectives, strict=False):
            for axis, augmented in zip(row, (False, True), strict=True):
                key = f"{setting_key(objective, augmented)}/seed-0"
                found = [run for run in plan.runs if run.key == key]
                folder = plan.folder(study_dir, found[0]) if found else None
                if folder is None or not images.sample_steps(folder):
                    continue
                step, samples = images.sample_grid(folder, 36)
                axis.imshow(image_grid(samples, columns=6), interpolation="nearest")
                name = f"with DiffAugment ({POLICY})" if augmented else "without augmentation"
                axis.set_title(f"{style.title(objective)}, {name}\nseed 0, step {step:,}",
                               color=style.colour(objective), fontsize=10)  # fmt: skip
        return save_figure(figure, study_dir, "samples")
