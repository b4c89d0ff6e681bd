"""Random architectures (WGAN-GP paper, sec. 5.1 and Table 1: "WGAN-GP successfully trains many architectures
from this set which the standard GAN objective nearly always failed"): a seeded sample of DCGAN-family
architectures (nonlinearity, depth, batch norm and base width of G and D drawn independently; see
`models.architecture_space`), each trained with the GAN objective and with WGAN-GP at one shared set of
hyperparameters per objective (their published recipes), on Fashion-MNIST at 32 px.

Success is the final FD (F-MNIST classifier) below a level fixed from real data before any run
(`images.fd_references`): the least bad known-bad generator (the ten class means), its half and its quarter, as
the paper counts successes at several Inception Score thresholds. Each architecture is trained once per
objective by default, so a success count's uncertainty is the binomial one over architectures (Wilson intervals).
"""

import math
from pathlib import Path

from wganlab.models.architecture_space import random_architectures
from wganlab.studies.common import images, style
from wganlab.studies.common.report import Figure, Section, Table, fmt, save_figure, write_csv, write_json
from wganlab.studies.common.runner import Plan, Run, folder_name
from wganlab.training.run_folder import RunFolder
from wganlab.training.samples import image_grid

NAME = "random-architectures"
KIND = "image"
TAKES_DATA = False  # Fashion-MNIST at 32 px: its metric and its architecture space are made for that
SEED_RECIPE = None  # the claim is the WGAN-GP paper's (sec. 5.1, Table 1), which seed 004 only repeats
SEED_RECIPE_NOTE = (
    "its claim is the WGAN-GP paper's (sec. 5.1, Table 1), which seed 004 reviews without settings of its own, so "
    "its seed recipe is the published one (leave out --recipe)"
)
OBJECTIVES = ("gan", "wgan-gp")
CRITIC_NORM = {"gan": "batch", "wgan-gp": "layer"}  # what a normalised critic uses: the penalty forbids batch norm
SIZES = {
    "quick": {"count": 3, "space": "cpu", "steps": 20, "seeds": 1, "eval_samples": 256, "batch": 32},
    # 24 architectures x 2 objectives at 1,500 steps (the 32-channel DCGAN + BN runs of loss-vs-quality are at FD
    # 424-498 (GAN) and 259-288 (WGAN-GP) after 1,500 steps, below the loosest level 541; at 1,000 steps the GAN's
    # were not). Estimated from single-run step times on one AMD EPYC core (WGAN-GP 0.25 s per step at depth 4 and
    # 16 filters, 0.70 s at 32 filters, 0.59 s at depth 8 and 16 filters; the GAN about a sixth of that): about 4 h
    # wall with two single-threaded jobs. Architecture k is the same for any count, so a larger N reuses these runs.
    "default": {"count": 24, "space": "cpu", "steps": 1500, "seeds": 1, "eval_samples": 2000, "batch": 64},
    "paper": {
        "count": 200,
        "space": "paper",
        "steps": 100_000,
        "seeds": 1,
        "eval_samples": 10_000,
        "batch": 64,
        "fast": True,
    },
    # long: the default's 24 architectures until FD has flattened (train.stop_rule=plateau, training/stopping.py),
    # evaluated every 375 steps and checked from the 16th evaluation on, so every run trains at least 6,000 steps
    # (4x the default), at most 12,000.
    "long": {
        "count": 24,
        "space": "cpu",
        "steps": 12_000,
        "seeds": 1,
        "eval_samples": 2000,
        "batch": 64,
        "eval_every": 375,
        "stop_min_evaluations": 16,
        "fast": True,  # a new pool: the fast path (bf16 + channels-last, images.FAST_PATH)
    },
}
SAMPLER_SEED = 0
# A run "collapsed to one image" when the F-MNIST classifier gives its samples nearly one class distribution: the
# classifier score (exp of the mean KL from p(y|x) to p(y)) is 1 exactly when every sample gets the same p(y|x); the
# 10,000 real test images score 8.24 and uniform noise 1.19 (training.quality), so diverse noise stays above the
# threshold. 1.1 was set after seeing the default-size runs, which split into a group at 1.0000-1.03 (their sample
# grids show one image repeated, or nearly: black, grey, one shape or one texture) and one at 1.39 and above, so any
# threshold in that gap counts the same runs.
COLLAPSE_SCORE = 1.1


def plan(size: str, seeds: int | None) -> Plan:
    settings = dict(SIZES[size])
    settings["seeds"] = seeds or settings["seeds"]
    settings["architectures"] = random_architectures(SAMPLER_SEED, settings["count"], settings["space"])
    runs = []
    for index, arch in enumerate(settings["architectures"]):
        for objective in OBJECTIVES:
            for seed in range(settings["seeds"]):
                runs.append(run(index, arch, objective, seed, settings))
    return Plan(NAME, size, settings["seeds"], runs, settings, runs_dir=f"../{folder_name(NAME + '-runs', size)}")


def run(index: int, arch, objective: str, seed: int, settings: dict) -> Run:
    model = [f"{key}={value}" for key, value in arch.overrides(CRITIC_NORM[objective]).items()]
    steps = settings["steps"]
    overrides = (
        *images.FASHION_MNIST, "model.z_dim=128", *model,
        *(images.fast_path(objective) if settings.get("fast") else ()),
        f"train.steps={steps}", f"train.seed={seed}", f"train.batch_size={settings['batch']}",
        *long_overrides(settings),
        f"log.log_every={settings.get('eval_every', max(1, steps // 10))}",
        f"log.eval_every={settings.get('eval_every', steps)}", "log.eval_metrics=fd_fmnist,cs_fmnist",
        f"log.eval_samples={settings['eval_samples']}", f"log.sample_every={steps}",
        # A stopped study loses at most a quarter of a run in flight; a run a stop rule ends, one evaluation interval.
        f"log.checkpoint_every={settings['eval_every'] if long_overrides(settings) else max(1, steps // 4)}",
        "log.keep_checkpoints=1", "log.tensorboard=false",
    )  # fmt: skip
    # Relative to DCGAN at 32 filters and depth 4: a per-layer overhead plus the convolutions' work, which grows with
    # the filters squared (fitted by eye to the step times above; only the order of the runs depends on it).
    layers = (arch.generator_depth + arch.critic_depth) / 8
    work = (arch.generator_depth * arch.generator_channels**2 + arch.critic_depth * arch.critic_channels**2) / (
        8 * 32**2
    )
    cost = images.SECONDS_PER_STEP[objective] * steps * (0.35 * layers + 0.65 * work)
    labels = (("architecture", index), ("objective", objective), ("seed", seed))
    key = f"arch-{index:03d}/{objective}/seed-{seed}"
    return Run(key=key, preset=f"fashion_mnist/{objective}", overrides=overrides, cost=cost, labels=labels)


def long_overrides(settings: dict) -> tuple[str, ...]:
    """The stopping rule of the long size (3 % as for the image cells), nothing for the others."""
    if "stop_min_evaluations" not in settings:
        return ()
    return ("train.stop_rule=plateau", f"train.stop_min_evaluations={settings['stop_min_evaluations']}",
            "train.stop_tolerance=0.03")  # fmt: skip


def summary(run, folder: Path) -> str:
    evals = RunFolder(folder).records("eval")
    return f"FD {evals[-1]['fd_fmnist']:.3g}" if evals else ""


def wilson(successes: int, total: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a proportion (sensible at 0 and at n)."""
    if total == 0:
        return math.nan, math.nan
    p = successes / total
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / (1 + z * z / total)
    return max(0.0, centre - half), min(1.0, centre + half)


def collect(plan: Plan, study_dir: Path) -> Section:
    references = images.fd_references({"fashion_mnist": True})
    write_json(study_dir / "references.json", references)
    levels = references["levels"]
    rows = []
    for run in plan.runs:
        folder = RunFolder(plan.folder(study_dir, run))
        evals, outcome = folder.records("eval"), folder.outcome() or {}
        arch = plan.settings["architectures"][run.label("architecture")]
        fd = evals[-1]["fd_fmnist"] if evals and outcome.get("status") == "finished" else math.inf
        row = {**dict(run.labels), "label": arch.label, "status": outcome.get("status", "unknown"), "fd_fmnist": fd}
        row["cs_fmnist"] = evals[-1].get("cs_fmnist_mean", math.nan) if evals else math.nan
        row["collapsed"] = bool(row["cs_fmnist"] < COLLAPSE_SCORE)  # False for a run without a score
        row["train_seconds"] = outcome.get("train_seconds", math.nan)
        row.update({f"success_{k}": bool(fd < level) for k, level in enumerate(levels)})
        row.update({f"arch_{key}": value for key, value in vars(arch).items()})
        rows.append(row)
    write_csv(study_dir / "runs.csv", rows)
    table = success_table(plan, rows, levels)
    factors = factor_table(plan, rows)
    figures = [
        Figure(plot_fd(plan, study_dir, rows, levels), "Final FD (F-MNIST classifier) of every architecture with GAN "
               "(x) and WGAN-GP (y); dashed lines: the success levels (left of a vermillion line: GAN succeeded; "
               "below a green one: WGAN-GP did); under the dotted diagonal WGAN-GP did better. Open markers: the "
               "samples of one or both objectives collapsed to a single image (classifier score below "
               f"{COLLAPSE_SCORE}); nearby points share one label."),
        Figure(plot_samples(plan, study_dir, rows), "Samples of the first eight architectures (rows) with GAN (left) "
               "and WGAN-GP (right)."),
    ]  # fmt: skip
    n = len(plan.settings["architectures"])
    first = table[0]
    findings = [
        f"Of {n} random architectures, at the loosest level (FD < {fmt(levels[0])}, the ten class means): only GAN "
        f"succeeded {first[1]}, only WGAN-GP {first[2]}, both {first[3]}, neither {first[4]}.",
        paired_text(rows),
        collapse_text(rows),
        *(failure_text(rows, objective) for objective in OBJECTIVES),
        "Success rates per objective with 95% Wilson intervals are in the first table; the second breaks failures "
        "down by architecture choice.",
    ]
    return Section(
        name=NAME,
        title="Random architectures: where does each objective succeed? (WGAN-GP paper sec. 5.1, Table 1)",
        findings=[f for f in findings if f],
        figures=figures,
        tables=[
            Table(
                "Success counts per level (the paper's Table 1 layout) and success rates (95% Wilson intervals)",
                ["FD level", "only GAN", "only WGAN-GP", "both", "neither", "GAN rate", "WGAN-GP rate"],
                table,
                "runs.csv",
            ),
            Table(
                "Failures (at the loosest level) by architecture choice: failed / trained",
                ["choice", "value", "GAN", "WGAN-GP"],
                factors,
            ),
            Table(
                f"Every architecture: final FD per objective and who succeeded at the loosest level "
                f"(FD < {fmt(levels[0])})",
                ["arch", "generator", "critic", "GAN FD", "WGAN-GP FD", "succeeded"],
                architecture_table(plan, rows),
                "runs.csv",
            ),
        ],  # fmt: skip
        setup=[
            f"{n} architectures drawn from the `{plan.settings['space']}` space of `models.architecture_space` with "
            f"seed {SAMPLER_SEED} (their settings are in runs.csv): nonlinearity of G and of D (ReLU, LeakyReLU, "
            "softplus(2x+2)/2 − 1, tanh), depth and base width of G and D, batch norm in G, batch norm (GAN) or layer "
            "norm (WGAN-GP) in D. The paper's own space (`--scale paper`, 200 architectures) has wider and deeper "
            "choices; its values were recalled, not checked against the paper's text here.",
            f"Each trained {plan.seeds} time(s) per objective for {plan.settings['steps']:,} generator steps, batch "
            f"{plan.settings['batch']}, z_dim 128, Fashion-MNIST padded to 32 px; GAN Adam 2e-4 β (0.5, 0.999), "
            "WGAN-GP Adam 1e-4 β (0, 0.9), λ = 10, n_critic 5.",
            f"Success: the final FD of {plan.settings['eval_samples']:,} samples below a level (a diverged run fails); "
            f"levels from real data only: {', '.join(fmt(v) for v in levels)} (`references.json`).",
            f"Collapsed to one image: the final classifier score (`cs_fmnist`, the IS formula on the F-MNIST "
            f"classifier) below {COLLAPSE_SCORE}, i.e. the classifier gives every sample nearly the same class "
            "distribution (1 when all samples are one image; 8.24 on the real test images, 1.19 on uniform noise). The "
            "threshold was set after seeing the runs, inside the gap between their two groups (`collapsed` in "
            "runs.csv).",
        ],
    )


def success_table(plan: Plan, rows: list[dict], levels: list[float]) -> list[list[str]]:
    table = []
    n = len(plan.settings["architectures"])
    for k, level in enumerate(levels):
        won = {o: {r["architecture"] for r in rows if r["objective"] == o and r[f"success_{k}"]} for o in OBJECTIVES}
        both = won["gan"] & won["wgan-gp"]
        rates = []
        for objective in OBJECTIVES:
            low, high = wilson(len(won[objective]), n)
            rates.append(f"{len(won[objective])}/{n} ({fmt(low, 2)}–{fmt(high, 2)})")
        table.append([f"< {fmt(level)}", str(len(won["gan"] - both)), str(len(won["wgan-gp"] - both)), str(len(both)),
                      str(n - len(won["gan"] | won["wgan-gp"])), *rates])  # fmt: skip
    return table


CHOICES = ["generator_activation", "critic_activation", "generator_depth", "critic_depth", "generator_batch_norm",
           "critic_normalised", "generator_channels", "critic_channels"]  # fmt: skip


def failure_text(rows: list[dict], objective: str, smallest: int = 3, top: int = 3) -> str:
    """The architecture choices whose runs failed most often (at the loosest level) with this objective, against
    its failure rate overall; groups of fewer than `smallest` runs are left out as too small to say anything."""
    runs = [r for r in rows if r["objective"] == objective]
    failed = [r for r in runs if not r["success_0"]]
    if not runs or not failed:
        return f"{style.title(objective)}: no failures at the loosest level." if runs else ""
    groups = []
    for choice in (c for c in CHOICES if f"arch_{c}" in runs[0]):
        for value in {r[f"arch_{choice}"] for r in runs}:
            group = [r for r in runs if r[f"arch_{choice}"] == value]
            if len(group) >= smallest:
                bad = sum(not r["success_0"] for r in group)
                groups.append((bad / len(group), bad, len(group), choice.replace("_", " "), value))
    worst = sorted(groups, key=lambda g: (-g[0], -g[2]))[:top]
    if not worst:
        return (
            f"{style.title(objective)} failed {len(failed)} of {len(runs)} runs (too few runs per choice to say which)."
        )
    return (
        f"{style.title(objective)} failed {len(failed)} of {len(runs)} runs; most often with "
        + ", ".join(f"{choice} = {value} ({bad} of {n})" for _, bad, n, choice, value in worst)
        + " (an association over few runs, not a controlled comparison)."
    )


def paired_text(rows: list[dict]) -> str:
    """Architecture by architecture, without a level: how often WGAN-GP ended at a lower FD than the GAN, and the
    median of the ratio WGAN-GP FD / GAN FD (a run that did not finish counts as infinitely bad)."""
    pairs = []
    for index in sorted({r["architecture"] for r in rows}):
        fd = {r["objective"]: r["fd_fmnist"] for r in rows if r["architecture"] == index and r["seed"] == 0}
        if not (math.isinf(fd["gan"]) and math.isinf(fd["wgan-gp"])):
            pairs.append((fd["gan"], fd["wgan-gp"]))
    if not pairs:
        return ""
    lower, higher = sum(gp < gan for gan, gp in pairs), sum(gp > gan for gan, gp in pairs)
    ratios = sorted(gp / gan if math.isfinite(gan) else 0.0 for gan, gp in pairs)
    middle = len(ratios) // 2
    median = ratios[middle] if len(ratios) % 2 else (ratios[middle - 1] + ratios[middle]) / 2
    ties = len(pairs) - lower - higher
    return (
        f"Architecture by architecture, WGAN-GP ended at a lower FD than the GAN on {lower} of {len(pairs)}, higher "
        f"on {higher}" + (f", equal on {ties}" if ties else "") + f" (two-sided sign test over the {lower + higher} "
        f"that differ: p = {fmt(sign_test(lower, higher), 2)}); the median ratio of their final FDs (WGAN-GP / GAN) "
        f"is {fmt(median, 2)}."
    )


def sign_test(wins: int, losses: int) -> float:
    """Two-sided exact sign test: the chance, were both outcomes equally likely in each pair, of a split at least
    as uneven as `wins` against `losses` (ties left out beforehand)."""
    n, k = wins + losses, min(wins, losses)
    if n == 0:
        return 1.0
    return min(1.0, 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2**n)


def collapse_text(rows: list[dict]) -> str:
    """How many runs of each objective collapsed to one image, and on how many architectures both did."""
    if not any(r["collapsed"] for r in rows):
        return ""
    counts = []
    for objective in OBJECTIVES:
        runs = [r for r in rows if r["objective"] == objective]
        counts.append(f"{style.title(objective)} {sum(r['collapsed'] for r in runs)} of {len(runs)}")
    collapsed = {o: {r["architecture"] for r in rows if r["objective"] == o and r["collapsed"]} for o in OBJECTIVES}
    both = len(collapsed["gan"] & collapsed["wgan-gp"])
    return (
        f"Runs whose samples collapsed to a single image (classifier score below {COLLAPSE_SCORE}): "
        + ", ".join(counts)
        + f"; on {both} architecture(s) both objectives did."
    )


def factor_table(plan: Plan, rows: list[dict]) -> list[list[str]]:
    table = []
    for choice in CHOICES:
        key = f"arch_{choice}"
        if not rows or key not in rows[0]:
            continue
        for value in sorted({r[key] for r in rows}, key=lambda v: (isinstance(v, str), v)):
            cells = []
            for objective in OBJECTIVES:
                group = [r for r in rows if r["objective"] == objective and r[key] == value]
                cells.append(f"{sum(not r['success_0'] for r in group)}/{len(group)}")
            table.append([choice.replace("_", " "), str(value), *cells])
    return table


def architecture_table(plan: Plan, rows: list[dict]) -> list[list[str]]:
    """One line per sampled architecture (seed 0): its generator and critic, each objective's final FD (or how the
    run ended: "diverged", or "not run" without an outcome) and which objectives passed the loosest level."""
    ended = {"finished": "", "unknown": "not run"}
    table = []
    for index, arch in enumerate(plan.settings["architectures"]):
        runs = {r["objective"]: r for r in rows if r["architecture"] == index and r["seed"] == 0}
        fds = [
            ended.get(runs[o]["status"], runs[o]["status"])
            or fmt(runs[o]["fd_fmnist"]) + (" (one image)" if runs[o]["collapsed"] else "")
            for o in OBJECTIVES
        ]
        won = [style.title(o) for o in OBJECTIVES if runs[o]["success_0"]]
        generator, critic = arch.label.split(" / ")
        table.append([str(index), generator, critic, *fds, " and ".join(won) or "neither"])
    return table


# The scatter's marker per architecture, by (GAN collapsed, WGAN-GP collapsed).
MARKERS = {(False, False): "o", (True, False): "s", (False, True): "^", (True, True): "D"}
MARKER_LABELS = {(False, False): "neither collapsed", (True, False): "GAN's samples one image",
                 (False, True): "WGAN-GP's samples one image", (True, True): "both one image"}  # fmt: skip


def label_groups(points: list[tuple[float, float, int]], within: float = 0.04) -> list[tuple[float, float, str]]:
    """Points closer than `within` decades on both log axes (to a group's first) share one label ("7, 18"), placed
    at the group's largest x and y so that it sits above and right of every marker in it."""
    groups: list[list[tuple[float, float, int]]] = []
    for point in sorted(points, key=lambda p: p[2]):
        for group in groups:
            x, y, _ = group[0]
            if abs(math.log10(point[0] / x)) < within and abs(math.log10(point[1] / y)) < within:
                group.append(point)
                break
        else:
            groups.append([point])
    return [(max(p[0] for p in g), max(p[1] for p in g), ", ".join(str(p[2]) for p in g)) for g in groups]


def plot_fd(plan: Plan, study_dir: Path, rows: list[dict], levels: list[float]) -> Path:
    finite = [r["fd_fmnist"] for r in rows if math.isfinite(r["fd_fmnist"])]
    ceiling = 2 * max(finite + [levels[0]])
    floor = min(finite + [levels[-1]]) / 1.3
    with style.rc():
        figure, axes = style.figure(width=6, height=5.6)
        axis = axes[0, 0]
        points = []
        for index in range(len(plan.settings["architectures"])):
            runs = {r["objective"]: r for r in rows if r["architecture"] == index and r["seed"] == 0}
            x, y = (min(runs[o]["fd_fmnist"], ceiling) for o in OBJECTIVES)
            key = (runs["gan"]["collapsed"], runs["wgan-gp"]["collapsed"])
            axis.plot(
                x, y, MARKERS[key], color=style.colour("wgan-gp"), ms=5, mfc=None if key == (False, False) else "none"
            )
            points.append((x, y, index, key))
        for x, y, names in label_groups([point[:3] for point in points]):
            axis.annotate(names, (x, y), fontsize=6, xytext=(3, 3), textcoords="offset points")
        shown = {point[3] for point in points}
        for key in (key for key in MARKERS if key in shown):  # one legend entry per kind of point drawn
            axis.plot([], [], MARKERS[key], color=style.colour("wgan-gp"), ms=5, label=MARKER_LABELS[key],
                      mfc=None if key == (False, False) else "none")  # fmt: skip
        axis.legend(loc="upper left", bbox_to_anchor=(0, 0.95), fontsize=7)
        axis.plot([floor, ceiling * 1.3], [floor, ceiling * 1.3], ":", color="0.4", lw=0.8)
        axis.annotate("equal FD", (ceiling, ceiling), fontsize=7, color="0.4", ha="right", va="bottom", rotation=45,
                      xytext=(-4, 0), textcoords="offset points")  # fmt: skip
        for level in levels:
            axis.axvline(level, color=style.colour("gan"), ls="--", lw=0.8)
            axis.axhline(level, color=style.colour("wgan-gp"), ls="--", lw=0.8)
            axis.text(level, 0.995, f" {fmt(level)}", transform=axis.get_xaxis_transform(), fontsize=7, va="top",
                      color=style.colour("gan"))  # fmt: skip
            axis.text(0.995, level, fmt(level), transform=axis.get_yaxis_transform(), fontsize=7, va="bottom",
                      ha="right", color=style.colour("wgan-gp"))  # fmt: skip
        diverged = len(rows) - len(finite)
        axis.set(xscale="log", yscale="log", xlim=(floor, ceiling * 1.3), ylim=(floor, ceiling * 1.3))
        axis.set(xlabel="GAN: final FD (F-MNIST classifier)", ylabel="WGAN-GP: final FD (F-MNIST classifier)")
        axis.set_title(f"{diverged} run(s) that did not finish drawn at {fmt(ceiling)}" if diverged else "")
        style.plain_log_ticks(axis)
        return save_figure(figure, study_dir, "fd_gan_vs_wgan_gp")


def plot_samples(plan: Plan, study_dir: Path, rows: list[dict]) -> Path:
    shown = min(8, len(plan.settings["architectures"]))
    with style.rc():
        figure, axes = style.figure(shown, 2, width=6.4, height=3.0 * shown)
        for index in range(shown):
            for col, objective in enumerate(OBJECTIVES):
                axis = axes[index, col]
                run = next(
                    r for r in plan.runs if r.label("architecture") == index and r.label("objective") == objective
                )
                folder = plan.folder(study_dir, run)
                axis.axis("off")
                status = (RunFolder(folder).outcome() or {}).get("status", "not run")
                if status != "finished":
                    axis.set_title(f"arch {index}, {style.title(objective)}: {status}", fontsize=8)
                    continue
                _, samples = images.sample_grid(folder, 16)
                grid = image_grid(samples, columns=4)
                axis.imshow(grid[:, :, 0], cmap="gray", vmin=0, vmax=255)
                row = next(r for r in rows if r["architecture"] == index and r["objective"] == objective)
                one = " (one image)" if row["collapsed"] else ""
                axis.set_title(f"arch {index}, {style.title(objective)}: FD {fmt(row['fd_fmnist'])}{one}", fontsize=8)
        return save_figure(figure, study_dir, "samples")
