"""Mode collapse counted on images (issue 32; seeds 001, 002 sec. 5.2, 003; the WGAN paper's "no sign of mode
collapse"): GAN, WGAN, WGAN-GP and SNGAN on Stacked Fashion-MNIST, whose 1,000 modes (class triples R, G, B) are
counted exactly by the `modes_stacked` metric (metrics/stacked_modes.py).

Every objective trains the image studies' default cell (DCGAN generator with batch norm, DCGAN critic without
normalisation, which SNGAN's spectral normalisation also needs) on the stacked images padded from 28 to 32 px, 3
channels. Each evaluation counts the modes of `eval_samples` samples and their KL to uniform; the end counts them
on the protocol's 26,000 samples. The collect step measures the same numbers on real stacked images at the same n
(the ceiling the classifier allows), the final generators' mode histograms and their FD (F-MNIST classifier) per
channel, each channel against the Fashion-MNIST test images as the grayscale studies measure it.

The data is the study's own: `prepare` builds the stacked set (seed 0, Fashion-MNIST's train split, PacGAN's
128,000 images; 2,000 for --quick) into the user cache when it is not there, so `wganlab study mode-collapse` works
from a clean install; `--data` takes any 3-channel preset or config instead (mode counts mean something only on a
stacked set of Fashion-MNIST images).
"""

import json
import math
from pathlib import Path

import numpy as np
import torch

from wganlab.config import load_config
from wganlab.errors import ConfigError
from wganlab.files import resolve_user_path, user_cache_dir
from wganlab.studies.common import images, style
from wganlab.studies.common.recipes import SEED_RECIPES
from wganlab.studies.common.report import Figure, Section, Table, fmt, mean_std, save_figure, write_csv, write_json
from wganlab.studies.common.runner import Plan, Run, StudyError, folder_name
from wganlab.training.run_folder import RunFolder
from wganlab.training.samples import image_grid

NAME = "mode-collapse"
KIND = "image"
TAKES_DATA = True
SEED_RECIPE = "seed002"  # --recipe seed: seed 002 (Table 1) saw the GAN collapse ("many repeated objects")
OBJECTIVES = ("gan", "wgan", "wgan-gp", "sngan")
CELLS = [images.Cell("dcgan-bn", "none", objective) for objective in OBJECTIVES]
MODES = 1000
STACKED_SEED = 0  # the numpy seed that draws the three images of each stacked image
FD_SAMPLES = 2000  # per channel, as the grayscale image studies' FD evaluations
# Seconds per generator step on one thread of this project's 2-core machine (32 px, 3 channels, 32 base channels,
# batch 64), 20 steps of each objective timed with the machine's load average at 3 to 4 (other jobs on both cores):
# they order the runs and size the default; on an idle core expect about half (the grayscale cells' 0.11 / 0.35 /
# 0.58 s for GAN / WGAN / WGAN-GP).
SECONDS_PER_STEP = {"gan": 0.27, "wgan": 0.55, "wgan-gp": 1.0, "sngan": 0.56}

SIZES = {
    # default: sized for 2 CPU cores with --jobs 2 (docs/running-studies.md has the estimate); 10 evaluations of
    # 10,000 samples, where a uniform generator misses 0.05 of 1,000 modes on average and has KL 0.05.
    "quick": {"seeds": 1, "steps": 20, "eval_every": 10, "eval_samples": 500, "final_samples": 1000, "channels": 8,
              "batch": 32, "count": 2000, "paper": False},
    "default": {"seeds": 3, "steps": 3000, "eval_every": 300, "eval_samples": 10_000, "final_samples": 26_000,
                "channels": 32, "batch": 64, "count": 128_000, "paper": False, "fast": True},
    # paper: DCGAN's own 64 base channels for 50,000 generator steps (the seed recipe: its own 1,000 epochs).
    "paper": {"seeds": 3, "steps": 50_000, "eval_every": 2500, "eval_samples": 10_000, "final_samples": 26_000,
              "channels": 64, "batch": 64, "count": 128_000, "paper": True, "fast": True},
    # long: the default networks until the KL has flattened (train.stop_rule=plateau on modes_stacked_kl, the
    # headline), checked from the 8th evaluation of every 500 steps, at most 50,000 steps (or the seed recipe's).
    "long": {"seeds": 3, "steps": 50_000, "eval_every": 500, "eval_samples": 10_000, "final_samples": 26_000,
             "channels": 32, "batch": 64, "count": 128_000, "paper": False, "stop_rule": "plateau",
             "stop_min_evaluations": 8, "stop_tolerance": 0.03, "fast": True},
}  # fmt: skip


def stacked_name(count: int) -> str:
    """The stacked set of `count` images' folder inside the user cache (the protocol's 128,000 without a suffix)."""
    return "datasets/stacked-fashion-mnist" + ("" if count == SIZES["default"]["count"] else f"-{count}")


def stacked_folder(count: int) -> Path:
    return user_cache_dir(*stacked_name(count).split("/"))


def stacked_path(count: int) -> Path:
    return stacked_folder(count) / "stacked.npz"


def ensure_stacked(count: int) -> Path:
    """The stacked set of `count` images in the user cache, built (seed 0, train split) when absent: 128,000
    images take about 5 s and 300 MB. StudyError when the folder holds another set."""
    from wganlab.datasets.stacked_fashion_mnist import build_stacked_fashion_mnist

    folder = stacked_folder(count)
    manifest = folder / "dataset.json"
    if not manifest.exists():
        build_stacked_fashion_mnist(folder, count=count, seed=STACKED_SEED, split="train")
    found = json.loads(manifest.read_text())
    wanted = {"name": "stacked-fashion-mnist", "count": count, "seed": STACKED_SEED, "split": "train"}
    if any(found.get(key) != value for key, value in wanted.items()):
        raise StudyError(f"{folder} holds another stacked set ({found.get('count')} images, seed {found.get('seed')}, "
                         f"{found.get('split')} split); remove that folder and the study builds its own")  # fmt: skip
    return folder / "stacked.npz"


def size_settings(size: str, seeds: int | None, data: str | None, recipe: str | None) -> dict:
    settings = dict(SIZES[size])
    settings["seeds"] = seeds or settings["seeds"]
    settings["data"] = data or ""
    settings["stacked"] = data is None
    settings["recipe"] = recipe or "published"
    if recipe is not None:
        settings["batch"] = SEED_RECIPES[recipe].batch
    return settings


def data_overrides(settings: dict) -> tuple[str, ...]:
    if settings["data"]:
        return images.data_overrides(settings["data"])
    return (
        "data.source=array",
        f"data.path=cache:{stacked_name(settings['count'])}/stacked.npz",  # the user cache of the machine that runs it
        "data.split=train",
        "data.pad=2",  # 28 px + 2 black pixels on each side: 32 px with every pixel kept, as the grayscale studies
        "data.image_size=0",
        "data.channels=3",
    )


def cell_run(cell: images.Cell, seed: int, s: dict) -> Run:
    """The training run of one objective and seed at one size."""
    recipe = images.recipe_of(s)
    model = ("model.architecture=dcgan", "model.z_dim=128", f"model.channels={s['channels']}",
             "model.generator_norm=batch", "model.critic_norm=none")  # fmt: skip
    optim = recipe.objective_overrides(cell.objective) if recipe else ()
    every = s["eval_every"]
    train = [f"train.seed={seed}", f"train.batch_size={s['batch']}"]
    if recipe and (s["paper"] or s.get("stop_rule")):
        train += list(recipe.length_overrides)  # the seed's own length (the long size's cap)
    else:
        train.append(f"train.steps={s['steps']}")
    train += list(images.stop_overrides(s))
    pictures = 5 * every if s.get("stop_rule") or s["paper"] else max(1, s["steps"] // 4)
    overrides = (
        *data_overrides(s), *model, *optim, *(images.fast_path(cell.objective) if s.get("fast") else ()), *train,
        f"log.eval_every={every}", f"log.log_every={every}", f"log.sample_every={pictures}",
        f"log.checkpoint_every={every if s.get('stop_rule') else pictures}", "log.keep_checkpoints=2",
        "log.eval_metrics=modes_stacked", f"log.eval_samples={s['eval_samples']}",
        "log.final_metrics=modes_stacked", f"log.final_samples={s['final_samples']}",
        "log.tensorboard=false",
    )  # fmt: skip
    labels = (("generator", cell.generator), ("critic", cell.critic), ("objective", cell.objective),
              ("variant", cell.variant), ("seed", seed))  # fmt: skip
    cost = SECONDS_PER_STEP[cell.objective] * s["steps"] * s["batch"] / 64
    return Run(key=f"{cell.key}/seed-{seed}", preset=f"fashion_mnist/{cell.objective}", overrides=overrides,
               cost=cost, labels=labels)  # fmt: skip


def runs_dir(size: str, settings: dict) -> str:
    """Its own pool (the images differ from every other study's): ../stacked-runs[-size][-recipe][-data]."""
    recipe = settings["recipe"]
    suffix = "" if settings["stacked"] else "-" + Path(settings["data"]).stem.replace("/", "-")
    return f"../{folder_name('stacked-runs', size)}{'' if recipe == 'published' else '-' + recipe}{suffix}"


def plan(size: str, seeds: int | None, data: str | None = None, recipe: str = "published") -> Plan:
    if data is not None and load_config(data).data.channels == 1:
        raise ConfigError(f"--data {data} has 1 channel; mode-collapse needs 3-channel (stacked) images")
    images.check_data(data)
    settings = size_settings(size, seeds, data, SEED_RECIPE if recipe == "seed" else None)
    runs = [cell_run(cell, seed, settings) for cell in CELLS for seed in range(settings["seeds"])]
    return Plan(NAME, size, settings["seeds"], runs, settings, runs_dir=runs_dir(size, settings))


def prepare(plan: Plan) -> None:
    """Build the stacked set the runs read when the user cache lacks it (nothing with --data)."""
    if plan.settings["stacked"]:
        ensure_stacked(plan.settings["count"])


def summary(run, folder: Path) -> str:
    """The line printed as a run finishes: its last evaluation and its final count."""
    folder = RunFolder(folder)
    evals, final = folder.records("eval"), images.final_record(folder.path)
    if not evals:
        return ""
    last = evals[-1]
    text = f"step {last['step']}: {last['modes_stacked_covered']} modes, KL {last['modes_stacked_kl']:.3g}"
    if "modes_stacked_covered" in final:
        text += f"; final {final['modes_stacked_covered']} modes, KL {final['modes_stacked_kl']:.3g}"
    return text


def real_images(plan: Plan, n: int) -> tuple[np.ndarray, np.ndarray | None]:
    """The first n training images as the runs see them (uint8 (n, 3, 32, 32)) and their channels' true classes
    ((n, 3), None where the data has no labels)."""
    from wganlab.data.images import load_image_array

    if plan.settings["stacked"]:
        ensure_stacked(plan.settings["count"])
    config = plan.runs[0].config()
    array = load_image_array(config.data, progress=False)
    labels = None
    if config.data.source == "array" and config.data.path.endswith(".npz"):
        with np.load(resolve_user_path(config.data.path)) as stored:
            labels = stored["labels"][:n] if "labels" in stored.files else None
    return np.ascontiguousarray(array[:n]), labels


def ceilings(plan: Plan, classifier) -> dict[str, dict]:
    """The counts on real training images at the evaluations' n and at the end's n (the best a generator can
    score with this classifier), with the classifier's accuracy where the data has labels."""
    from wganlab.metrics.stacked_modes import channel_classes, mode_histogram, mode_ids, modes_stacked, real_ceiling

    s = plan.settings
    real, labels = real_images(plan, max(s["eval_samples"], s["final_samples"]))
    values = {}
    for name, n in (("eval", s["eval_samples"]), ("final", s["final_samples"])):
        if labels is not None:
            values[name] = real_ceiling(real[:n], labels[:n], classifier)
        else:
            values[name] = modes_stacked(real[:n], classifier)
        values[name]["n"] = len(real[:n])
    # The real images' own histogram at the evaluations' n, for the histogram figure (sorted, most frequent first).
    counts = mode_histogram(mode_ids(channel_classes(real[: s["eval_samples"]], classifier))).numpy()
    values["eval"]["sorted_counts"] = [int(c) for c in np.sort(counts)[::-1]]
    return values


FINAL_MEASURES = "final-measures.json"  # in each run folder: what collect measured on its final generator


def final_measures(plan: Plan, study_dir: Path, classifier, n: int) -> list[dict]:
    """Per run, from its final generator: the sorted mode histogram of n samples and, on a stacked set, the FD
    (F-MNIST classifier) of FD_SAMPLES samples per channel against the Fashion-MNIST test images.

    The first collect that finds a run's generator writes these into the run folder (FINAL_MEASURES, with the step
    and n they belong to); later collects read them there, so a record kept without its checkpoints (as the
    committed records are) still gives its histogram and FD."""
    from wganlab.config import DataConfig
    from wganlab.data.images import load_image_array
    from wganlab.metrics.classifier import classifier_features

    reference = None
    measures = []
    for run in plan.runs:
        folder = RunFolder(plan.folder(study_dir, run))
        row, step = {**dict(run.labels)}, (folder.outcome() or {}).get("step")
        stored = folder.path / FINAL_MEASURES
        if stored.exists():
            kept = json.loads(stored.read_text())
            if (kept.get("step"), kept.get("n")) == (step, n):
                measures.append({**row, **{k: v for k, v in kept.items() if k.startswith("fd_")},
                                 "counts": np.array(kept["sorted_counts"])})  # fmt: skip
                continue
        try:
            loaded = folder.load_generator("latest", "cpu")
        except Exception as err:  # a record kept without its generator or its measures: not measurable
            measures.append({**row, "counts": None, "why": f"{type(err).__name__}"})
            continue
        if reference is None and plan.settings["stacked"]:
            test = load_image_array(DataConfig(source="idx", split="test", pad=2, channels=1), progress=False)
            reference = classifier_features(test, classifier)
        row.update(measure_generator(loaded, classifier, n, reference))
        stored.write_text(json.dumps({"step": step, "n": n, "sorted_counts": [int(c) for c in row["counts"]],
                                      **{k: v for k, v in row.items() if k.startswith("fd_")}}) + "\n")  # fmt: skip
        measures.append(row)
    return measures


def measure_generator(loaded, classifier, n: int, reference) -> dict:
    """The sorted mode histogram of n samples of a loaded generator (z from seed 0) and, with the test images'
    classifier features as `reference`, the FD of FD_SAMPLES samples per channel."""
    from wganlab.metrics.classifier import classifier_features, fd_fmnist
    from wganlab.metrics.stacked_modes import channel_classes, mode_histogram, mode_ids
    from wganlab.training.quality import generate

    rng, total = torch.Generator().manual_seed(0), max(n, FD_SAMPLES)
    fake = torch.cat([generate(loaded.network, min(1000, total - start), loaded.config.model.z_dim, rng,
                               torch.device("cpu")).cpu() for start in range(0, total, 1000)])  # fmt: skip
    counts = mode_histogram(mode_ids(channel_classes(fake[:n], classifier))).numpy()
    row = {"counts": np.sort(counts)[::-1]}
    if reference is not None:
        for c, channel in enumerate("rgb"):
            features = classifier_features(fake[:FD_SAMPLES, c : c + 1], classifier)
            row[f"fd_{channel}"] = fd_fmnist(features, reference)
    return row


def collect(plan: Plan, study_dir: Path) -> Section:
    from wganlab.metrics.classifier import FashionClassifierFeatures

    classifier = FashionClassifierFeatures()
    ceiling = ceilings(plan, classifier)
    write_json(study_dir / "ceiling.json", ceiling)
    curves, rows = [], []
    for run in plan.runs:
        folder = RunFolder(plan.folder(study_dir, run))
        for r in folder.records("eval"):
            curves.append({**dict(run.labels), "step": r["step"], "covered": r["modes_stacked_covered"],
                           "kl": r["modes_stacked_kl"]})  # fmt: skip
        outcome, final = folder.outcome() or {}, images.final_record(folder.path)
        rows.append({**dict(run.labels), "status": outcome.get("status", "unknown"), "step": outcome.get("step"),
                     "covered": final.get("modes_stacked_covered", math.nan),
                     "kl": final.get("modes_stacked_kl", math.nan), "samples": final.get("samples", math.nan),
                     "sec_per_step": outcome.get("sec_per_step", math.nan),
                     "stopped_by": outcome.get("stopped_by", "")})  # fmt: skip
    measures = final_measures(plan, study_dir, classifier, plan.settings["eval_samples"])
    for row, measure in zip(rows, measures, strict=True):
        row.update({k: v for k, v in measure.items() if k.startswith("fd_")})
    write_csv(study_dir / "curves.csv", curves)
    write_csv(study_dir / "runs.csv", rows)
    write_csv(study_dir / "histograms.csv", [{**{k: v for k, v in m.items() if k != "counts"},
                                              "sorted_counts": " ".join(map(str, m["counts"]))}
                                             for m in measures if m["counts"] is not None])  # fmt: skip
    figures = [
        Figure(plot_curves(plan, study_dir, curves, ceiling),
               f"Modes covered of {MODES:,} (left) and KL(generated mode histogram ‖ uniform) in nats, log scale "
               f"(right), at each evaluation ({plan.settings['eval_samples']:,} samples); line: mean over seeds, band: "
               f"min to max; dashed: real stacked training images at the same n (the classifier's ceiling)."
               + style.band_note(curves)),
        Figure(plot_histograms(plan, study_dir, measures, ceiling),
               f"Each objective's final mode histogram ({plan.settings['eval_samples']:,} samples of the last "
               "generator per seed, z fixed), modes sorted from most to least frequent, mean over seeds (band: "
               "min to max); grey: real training images at the same n (solid) and the uniform distribution's "
               "expected count (dashed); log scales."),
        Figure(plot_samples(plan, study_dir),
               "Final samples of seed 0 per objective (the run's fixed grid z), 32 px RGB: each channel is one "
               "garment, so a pixel's colour says which channels are lit there."),
    ]  # fmt: skip
    return section(plan, rows, ceiling, figures)


def plot_curves(plan: Plan, study_dir: Path, curves: list[dict], ceiling: dict) -> Path:
    with style.rc():
        figure, axes = style.figure(1, 2, width=12, height=4.4)
        for objective in OBJECTIVES:
            rows = [r for r in curves if r["objective"] == objective]
            if not rows:
                continue
            for axis, key in zip(axes[0], ("covered", "kl"), strict=True):
                images.plot_lines(axis, rows, "step", key, style.colour(objective), style.title(objective))
        real = ceiling["eval"]
        axes[0, 0].axhline(real["modes_stacked_covered"], color=style.REAL_COLOUR, ls="--", lw=1, label="real images")
        axes[0, 1].axhline(real["modes_stacked_kl"], color=style.REAL_COLOUR, ls="--", lw=1, label="real images")
        axes[0, 0].set(xlabel="generator step", ylabel=f"modes covered (of {MODES:,})", ylim=(0, MODES * 1.03))
        axes[0, 1].set(xlabel="generator step", ylabel="KL to uniform (nats)", yscale="log")
        style.plain_log_ticks(axes[0, 1], "y")
        axes[0, 0].legend(loc="lower right")
        return save_figure(figure, study_dir, "modes_over_training")


def plot_histograms(plan: Plan, study_dir: Path, measures: list[dict], ceiling: dict) -> Path:
    n = plan.settings["eval_samples"]
    with style.rc():
        figure, axes = style.figure(1, 1, width=8, height=4.4)
        axis = axes[0, 0]
        ranks = np.arange(1, MODES + 1)
        floor = min(0.5, n / MODES / 4)  # where an empty mode is drawn, so that it shows on the log scale
        for objective in OBJECTIVES:
            counts = [m["counts"] for m in measures if m["objective"] == objective and m["counts"] is not None]
            if not counts:
                continue
            stacked = np.stack(counts).astype(float)
            axis.plot(ranks, np.maximum(stacked.mean(0), floor), color=style.colour(objective),
                      label=style.title(objective))  # fmt: skip
            axis.fill_between(ranks, np.maximum(stacked.min(0), floor), np.maximum(stacked.max(0), floor),
                              color=style.colour(objective), alpha=0.15, lw=0)  # fmt: skip
        real = np.maximum(np.array(ceiling["eval"]["sorted_counts"], dtype=float), floor)
        axis.plot(ranks, real, color=style.REAL_COLOUR, lw=1.5, label="real training images")
        axis.axhline(n / MODES, color=style.REAL_COLOUR, ls="--", lw=1, label=f"uniform ({n / MODES:g} per mode)")
        axis.set(xlabel="mode rank (most frequent first, log scale)", ylabel=f"samples of {n:,} (empty: {floor:g})",
                 yscale="log", xscale="log", xlim=(1, MODES))  # fmt: skip
        axis.legend(loc="upper right")
        return save_figure(figure, study_dir, "mode_histograms")


def plot_samples(plan: Plan, study_dir: Path) -> Path:
    with style.rc():
        figure, axes = style.figure(2, 2, width=12, height=12.6)
        for axis, objective in zip(axes.flat, OBJECTIVES, strict=True):
            axis.axis("off")
            found = plan.find(objective=objective, seed=0)
            if not found:
                continue
            step, samples = images.sample_grid(plan.folder(study_dir, found[0]), 64)
            axis.imshow(image_grid(samples, columns=8), interpolation="nearest")
            axis.set_title(f"{style.title(objective)}, step {step:,}", color=style.colour(objective))
        return save_figure(figure, study_dir, "samples")


def section(plan: Plan, rows: list[dict], ceiling: dict, figures: list[Figure]) -> Section:
    s = plan.settings
    final_n, eval_n = ceiling["final"]["n"], ceiling["eval"]["n"]
    has_fd = any("fd_r" in r for r in rows)
    table = []
    for objective in OBJECTIVES:
        group = [r for r in rows if r["objective"] == objective]
        fd = [float(np.mean([r[f"fd_{c}"] for c in "rgb"])) for r in group if "fd_r" in r]
        table.append([style.title(objective), mean_std([r["covered"] for r in group]),
                      mean_std([r["kl"] for r in group]), mean_std(fd) if fd else "n/a",
                      mean_std([r["sec_per_step"] for r in group]),
                      str(sum(r["status"] == "diverged" for r in group))])  # fmt: skip
    real = ceiling["final"]
    table.append([f"real training images (n = {final_n:,})", fmt(real["modes_stacked_covered"]),
                  fmt(real["modes_stacked_kl"]), "", "", ""])  # fmt: skip
    means = {o: (np.nanmean([r["covered"] for r in rows if r["objective"] == o]),
                 np.nanmean([r["kl"] for r in rows if r["objective"] == o])) for o in OBJECTIVES}  # fmt: skip
    order = sorted(OBJECTIVES, key=lambda o: means[o][1])
    floor = (MODES - 1) / (2 * final_n)
    findings = [
        f"At the end ({final_n:,} samples, {plan.seeds} seeds), mean modes covered of {MODES:,} and KL to uniform: "
        + ", ".join(f"{style.title(o)} {fmt(means[o][0])} and {fmt(means[o][1])}" for o in OBJECTIVES)
        + f"; real stacked images at the same n: {fmt(real['modes_stacked_covered'])} and "
        f"{fmt(real['modes_stacked_kl'])} (a uniform histogram's sampling floor alone is (1000 − 1) / (2n) = "
        f"{fmt(floor)}).",
        "Lowest mean KL first: "
        + ", ".join(style.title(o) for o in order)
        + "; "
        + images.ranking_text({style.title(o): [r["kl"] for r in rows if r["objective"] == o] for o in OBJECTIVES})
        + ".",
    ]
    if "triple_accuracy" in real:
        findings.append(
            f"The classifier puts {fmt(100 * real['channel_accuracy'])} % of real channels and "
            f"{fmt(100 * real['triple_accuracy'])} % of real images in their true class and mode; its errors spread "
            "over the modes, so they barely move the real images' KL from that of their true labels "
            f"({fmt(real['labels_kl'])})."
        )
    config = plan.runs[0].config()
    data = (f"Stacked Fashion-MNIST ({s['count']:,} images drawn with seed {STACKED_SEED} from Fashion-MNIST's "
            "train split, built by `wganlab datasets get stacked-fashion-mnist` into the user cache), 28 px padded "
            "with 2 black pixels to 32 px, 3 channels" if s["stacked"] else f"`{s['data']}`")  # fmt: skip
    setup = [
        f"Data: {data}. Networks: DCGAN generator with batch norm, DCGAN critic without normalisation, "
        f"{config.model.channels} base channels, z_dim {config.model.z_dim}, batch {config.train.batch_size}; "
        f"{images.length_text(config)}.",
        images.recipe_text(
            plan,
            "Recipes as published (the `fashion_mnist/<objective>` presets): GAN Adam 2e-4 β (0.5, 0.999), n_critic "
            "1; WGAN RMSProp 5e-5, c = 0.01, n_critic 5; WGAN-GP Adam 1e-4 β (0, 0.9), λ = 10, n_critic 5; SNGAN "
            "hinge loss with spectral normalisation, Adam 2e-4 β (0, 0.9), n_critic 5.",
        ),
        f"Mode counts (`modes_stacked`): our Fashion-MNIST classifier labels each channel, the triple names one of "
        f"{MODES:,} modes; {images.evaluation_text(config)} on {eval_n:,} samples (a uniform generator misses "
        f"{fmt(MODES * math.exp(-eval_n / MODES))} modes on average there and has KL ≈ "
        f"{fmt((MODES - 1) / (2 * eval_n))}), at the end on {final_n:,} (the protocol's; KL floor {fmt(floor)}). "
        "Compare KLs only at equal n.",
        "The ceiling (`ceiling.json`) is the same count on the first n real training images, measured by this "
        "collect. Mode histograms: "
        f"{eval_n:,} samples of each run's last generator with a fixed z."
        + (
            f" FD (F-MNIST classifier) per channel: {FD_SAMPLES:,} samples' R, G and B channels each against the "
            "10,000 Fashion-MNIST test images, averaged over the channels (the grayscale image studies' scale, at "
            "their evaluations' n)."
            if has_fd
            else ""
        ),  # fmt: skip
    ]
    return Section(
        name=NAME,
        title="Mode collapse counted on Stacked Fashion-MNIST (seeds 001, 002, 003; WGAN paper)",
        findings=findings,
        figures=figures,
        tables=[
            Table(
                f"At the end (mean ± std over {plan.seeds} seeds): modes covered and KL of {final_n:,} samples, FD "
                "per channel (mean of R, G, B), seconds per generator step; the last row: real training images",
                ["objective", f"modes (of {MODES:,})", "KL (nats)", "FD per channel", "s / generator step", "diverged"],
                table,
                "runs.csv",
            )
        ],  # fmt: skip
        setup=setup,
    )
