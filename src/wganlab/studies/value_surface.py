"""Value surfaces, weights and gradient norms of clipped vs gradient-penalty critics (WGAN-GP paper Fig. 1;
seed 002 Fig. 3).

Real data: a toy (first the S-curve, noise 0.01); the "generator" is fixed at real data plus N(0, I) noise.
Critics are trained by the training loop's own `critic_step` (see critic_response.fixed_generator_state) with
the toy's presets: clipping = `configs/<toy>/wgan.toml` (RMSProp 5e-5, n_critic irrelevant here) with
c in {0.1, 0.01, 0.001}; penalty = `configs/<toy>/wgan-gp.toml` (Adam 1e-4, betas (0.5, 0.9), lambda 0.1, the
WGAN-GP toy code's setting). Surfaces use a 4-hidden-layer ReLU critic of width 512; the gradient-norm figure
uses a 12-linear-layer critic on the Swiss roll, as in WGAN-GP Fig. 1(b).
"""

import math
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from wganlab.config import load_config
from wganlab.data.toy import sample_toy
from wganlab.metrics.transport import exact_w1
from wganlab.objectives import GradientPenalty
from wganlab.studies.common import style
from wganlab.studies.common.report import Figure, Section, Table, mean_std, save_figure, write_csv, write_json
from wganlab.studies.common.runner import Plan, Run, read_json
from wganlab.studies.critic_response_1d import fixed_generator_state
from wganlab.training.loop import critic_step
from wganlab.training.state import TrainState, make_rng

CLIP_VALUES = (0.1, 0.01, 0.001)
SETTINGS = tuple(f"clip {c:g}" for c in CLIP_VALUES) + ("penalty",)
TOYS = ("s_curve", "eight_gaussians", "twenty_five_gaussians", "swiss_roll")
TOY_TITLES = {
    "s_curve": "S-curve",
    "eight_gaussians": "8 Gaussians",
    "twenty_five_gaussians": "25 Gaussians",
    "swiss_roll": "Swiss roll",
}
SURFACE_WIDTHS = "512,512,512,512"
DEEP_WIDTHS = ",".join(["512"] * 11)  # 11 hidden layers: 12 linear layers
DEEP_INIT_STD = math.sqrt(2 / 512)  # He init for the 512-wide layers: gain ~1 per layer before any constraint
LIMIT = 3.0  # surfaces drawn on [-3, 3]^2


class RealPlusNoise(nn.Module):
    """A fixed generator: z ~ N(0, I) -> x + z with x a fresh real sample (WGAN-GP Fig. 1's 'generator')."""

    def __init__(self, source: str, rng: torch.Generator):
        super().__init__()
        self.source, self.rng = source, rng

    def forward(self, z: Tensor) -> Tensor:
        return sample_toy(self.source, len(z), 0.0, self.rng, z.device) + z


def setting_overrides(
    setting: str, widths: str, init_std: float | None, extra: tuple[str, ...]
) -> tuple[str, list[str]]:
    objective = "wgan-gp" if setting == "penalty" else "wgan"
    overrides = [f"model.critic_widths={widths}", "model.z_dim=2", "train.batch_size=256"]
    if setting != "penalty":
        overrides.append(f"objective.clip_value={setting.split()[1]}")
    if init_std is not None:
        overrides.append(f"model.init_std={init_std!r}")
    return objective, overrides + list(extra)


def fixed_config(toy: str, setting: str, seed: int, widths: str):
    objective, overrides = setting_overrides(setting, widths, None, ())
    return load_config(f"{toy}/{objective}", [*overrides, f"train.seed={seed}"])


def train_critic(
    toy: str,
    setting: str,
    iterations: int,
    seed: int,
    widths: str,
    init_std: float | None = None,
    extra: tuple[str, ...] = (),
) -> tuple[TrainState, list[list[float]]]:
    """`iterations` critic updates; returns the state and, per update, ||dL/dW|| of every linear layer.
    `extra` overrides go last (tests use them for small, fast settings)."""
    objective, overrides = setting_overrides(setting, widths, init_std, extra)
    generator = RealPlusNoise(toy, make_rng(seed, "data", offset=1))
    state = fixed_generator_state(objective, toy, overrides, generator, seed)
    layers = [m for m in state.critic.network.modules() if isinstance(m, nn.Linear)]
    norms = []
    for _ in range(iterations):
        critic_step(state, state.data.next_batch(state.local_batch_size))
        # The gradients of this update's loss are still on the weights (zero_grad comes before backward).
        norms.append([float(layer.weight.grad.norm()) for layer in layers])
    return state, norms


@torch.no_grad()
def surface(critic: nn.Module, points: int) -> np.ndarray:
    axis = torch.linspace(-LIMIT, LIMIT, points)
    grid = torch.cartesian_prod(axis, axis)  # (points^2, 2), x varies slowest
    return critic(grid).reshape(points, points).T.numpy()  # rows = y, columns = x


def critic_facts(state: TrainState, setting: str, toy: str, seed: int) -> dict:
    """Weights at the clip bound, the W estimate vs exact W1, and input-gradient norms on interpolates."""
    critic = state.critic.network
    params = torch.cat([p.detach().flatten() for p in critic.parameters()])
    rng = make_rng(seed, "eval")
    real = sample_toy(toy, 1000, 0.0, rng, torch.device("cpu"))
    fake = sample_toy(toy, 1000, 0.0, rng, torch.device("cpu")) + torch.randn(1000, 2, generator=rng)
    with torch.no_grad():
        estimate = float(critic(real).mean() - critic(fake).mean())
    norms = GradientPenalty(1.0).gradient_norms(critic, real, fake, rng).detach()
    facts = {
        "toy": toy,
        "setting": setting,
        "w_estimate": estimate,
        "exact_w1": exact_w1(real, fake),
        "grad_norm_mean": float(norms.mean()),
        "grad_norm_std": float(norms.std()),
        "max_abs_param": float(params.abs().max()),
        "share_params_at_bound": float("nan"),
    }
    if setting != "penalty":
        clip = torch.tensor(float(setting.split()[1]), dtype=params.dtype)
        facts["share_params_at_bound"] = float((params.abs() == clip).float().mean())
    return facts


NAME = "value-surface"
KIND = "toy"
TAKES_DATA = False
SIZES = {
    "quick": {"toys": TOYS[:1], "seeds": 1, "iterations": 100, "deep_iterations": 20, "points": 81},
    # Default: seed 002's S-curve and the WGAN-GP paper's 8 Gaussians, 2,000 updates for the deep critics, so the
    # study fits about 2 hours on 2 cores (a penalty update of the 4 x 512 critic measured 0.07 s on one core).
    "default": {"toys": TOYS[:2], "seeds": 3, "iterations": 10_000, "deep_iterations": 2_000, "points": 201},
    "paper": {"toys": TOYS, "seeds": 3, "iterations": 86_000, "deep_iterations": 5_000, "points": 201},  # seed 002
}


def setting_key(setting: str) -> str:
    return setting.replace(" ", "-")


def plan(size: str, seeds: int | None) -> Plan:
    settings = dict(SIZES[size])
    settings["seeds"] = seeds or settings["seeds"]
    # Relative cost: a penalty update does about three times a clipped one's work (interpolates, double backward).
    cost = {setting: 3.0 if setting == "penalty" else 1.0 for setting in SETTINGS}
    runs = [
        Run(
            key=f"{toy}/{setting_key(setting)}/seed-{seed}",
            task=True,
            cost=cost[setting] * settings["iterations"],
            labels=(("kind", "surface"), ("toy", toy), ("setting", setting), ("seed", seed)),
        )  # fmt: skip
        for toy in settings["toys"]
        for setting in SETTINGS
        for seed in range(settings["seeds"])
    ] + [
        Run(
            key=f"deep/{setting_key(setting)}/seed-{seed}",
            task=True,
            cost=4 * cost[setting] * settings["deep_iterations"],
            labels=(("kind", "deep"), ("toy", "swiss_roll"), ("setting", setting), ("seed", seed)),
        )  # fmt: skip
        for setting in SETTINGS
        for seed in range(settings["seeds"])
    ]
    return Plan(NAME, size, settings["seeds"], runs, settings, selectors=("seeds", "toys"))


def run_task(plan: Plan, run: Run, folder: Path) -> dict:
    setting, seed = run.label("setting"), run.label("seed")
    if run.label("kind") == "deep":
        iterations = plan.settings["deep_iterations"]
        _, norms = train_critic("swiss_roll", setting, iterations, seed, DEEP_WIDTHS, DEEP_INIT_STD)
        tail = np.array(norms[-max(1, iterations // 10) :])  # the last 10% of updates
        return {"layer_grad_norms": [float(v) for v in tail.mean(axis=0)]}
    toy = run.label("toy")
    state, _ = train_critic(toy, setting, plan.settings["iterations"], seed, SURFACE_WIDTHS)
    np.save(folder / "surface.npy", surface(state.critic.network, plan.settings["points"]))
    params = torch.cat([p.detach().flatten() for p in state.critic.network.parameters()])
    np.save(folder / "parameters.npy", params.numpy())
    return critic_facts(state, setting, toy, seed)


def collect(plan: Plan, study_dir: Path) -> Section:
    toys = plan.settings["toys"]
    surface_runs = [run for run in plan.runs if run.label("kind") == "surface"]
    facts = [
        {**read_json(plan.folder(study_dir, run) / "result.json"), "seed": run.label("seed")} for run in surface_runs
    ]
    for row in facts:
        row.pop("seconds", None)
    write_csv(study_dir / "critics.csv", facts)
    deep = {
        setting: np.array(
            [
                read_json(plan.folder(study_dir, run) / "result.json")["layer_grad_norms"]
                for run in plan.find(kind="deep", setting=setting)
            ]
        )  # fmt: skip
        for setting in SETTINGS
    }
    deep_rows = [
        {"setting": setting, "seed": seed, "layer": layer + 1, "grad_norm": float(value)}
        for setting, values in deep.items()
        for seed, per_layer in enumerate(values)
        for layer, value in enumerate(per_layer)
    ]
    write_csv(study_dir / "deep_gradient_norms.csv", deep_rows)
    first = {
        (run.label("toy"), run.label("setting")): plan.folder(study_dir, run)
        for run in surface_runs
        if run.label("seed") == 0
    }
    surfaces = {key: np.load(folder / "surface.npy") for key, folder in first.items()}
    weights = {setting: np.load(first[toys[0], setting] / "parameters.npy") for setting in SETTINGS}
    summary = {
        "iterations": plan.settings["iterations"],
        "deep_iterations": plan.settings["deep_iterations"],
        "seeds": plan.seeds,
        "deep_median_layer_norm": {s: [float(np.median(v)) for v in values] for s, values in deep.items()},
        "deep_min_layer_norm": {s: [float(v.min()) for v in values] for s, values in deep.items()},
        "deep_max_layer_norm": {s: [float(v.max()) for v in values] for s, values in deep.items()},
        "deep_zero_layers": {s: [int((v == 0).sum()) for v in values] for s, values in deep.items()},
    }
    write_json(study_dir / "summary.json", summary)
    paths = [
        plot_surfaces(study_dir, toys, surfaces),
        plot_weights(study_dir, toys[0], weights),
        plot_deep(study_dir, deep),
    ]
    return section(plan, facts, summary, paths)


SETTING_COLOURS = dict(zip(SETTINGS, (*style.EXTRA_COLOURS[:3], style.colour("wgan-gp")), strict=True))


def plot_surfaces(study_dir: Path, toys: tuple[str, ...], surfaces: dict) -> Path:
    rng = make_rng(0, "grid")
    extent = (-LIMIT, LIMIT, -LIMIT, LIMIT)
    with style.rc():
        figure, axes = style.figure(len(toys), len(SETTINGS), width=3.4 * len(SETTINGS), height=3.0 * len(toys))
        for row, toy in enumerate(toys):
            real = sample_toy(toy, 400, 0.0, rng, torch.device("cpu")).numpy()
            for col, setting in enumerate(SETTINGS):
                axis, values = axes[row, col], surfaces[toy, setting]
                image = axis.imshow(values, origin="lower", extent=extent, cmap="viridis", aspect="equal")
                axis.contour(values, levels=12, extent=extent, colors="k", linewidths=0.4, alpha=0.6)
                axis.scatter(real[:, 0], real[:, 1], s=2, c="white", alpha=0.8)
                bar = figure.colorbar(image, ax=axis, shrink=0.8)  # the default formatter shows an offset when needed
                bar.set_label("critic value f(x)")
                axis.set_title(f"{TOY_TITLES[toy]}: {setting}")
                axis.set(xlabel="x₁", ylabel="x₂" if col == 0 else None)
                axis.grid(False)
        return save_figure(figure, study_dir, "value_surfaces")


def plot_weights(study_dir: Path, toy: str, weights: dict) -> Path:
    with style.rc():
        figure, axes = style.figure(1, len(SETTINGS), width=3.5 * len(SETTINGS), height=3.2)
        for axis, setting in zip(axes[0], SETTINGS, strict=True):
            axis.hist(weights[setting], bins=80, color=SETTING_COLOURS[setting])
            axis.set_yscale("log")
            axis.set(title=f"{TOY_TITLES[toy]}: {setting}", xlabel="critic parameter value", ylabel="count (log)")
            if setting != "penalty":
                c = float(setting.split()[1])
                for bound in (-c, c):
                    axis.axvline(bound, color="black", ls="--", lw=1)
            axis.ticklabel_format(axis="x", style="sci", scilimits=(-2, 2))
        return save_figure(figure, study_dir, "weights")


def plot_deep(study_dir: Path, deep: dict) -> Path:
    with style.rc():
        figure, axes = style.figure(width=7.5, height=4.4)
        axis = axes[0, 0]
        for setting, values in deep.items():  # values: (seeds, layers)
            layers = np.arange(1, values.shape[1] + 1)
            shown = np.where(values > 0, values, np.nan)  # a norm of exactly 0 (float32 underflow) has no log
            zeros = int((values == 0).sum())
            label = setting + (f" ({zeros} layer-seeds exactly 0, not drawn)" if zeros else "")
            colour = SETTING_COLOURS[setting]
            with warnings.catch_warnings():  # a layer whose norm is 0 for every seed has nothing to draw
                warnings.simplefilter("ignore", RuntimeWarning)
                median, low, high = (f(shown, axis=0) for f in (np.nanmedian, np.nanmin, np.nanmax))
            axis.semilogy(layers, median, marker="o", ms=4, color=colour, label=label)
            axis.fill_between(layers, low, high, color=colour, alpha=0.2, lw=0)
        axis.set(title="Deep critic (12 linear layers), Swiss roll", xlabel="critic layer (1 = input side)",
                 ylabel="‖∂ loss / ∂ W_layer‖ (log scale)")  # fmt: skip
        axis.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
        return save_figure(figure, study_dir, "deep_gradient_norms")


def section(plan: Plan, facts: list[dict], summary: dict, paths: list[Path]) -> Section:
    toys, seeds = plan.settings["toys"], plan.seeds

    def values(toy: str, setting: str, key: str) -> list[float]:
        return [f[key] for f in facts if f["toy"] == toy and f["setting"] == setting]

    def stat(toy: str, setting: str, key: str, scale: float = 1.0, digits: int = 3) -> str:
        return mean_std([scale * v for v in values(toy, setting, key)], digits)

    def mean(toy: str, setting: str, key: str) -> float:
        return float(np.mean(values(toy, setting, key)))

    rows = [
        [
            TOY_TITLES[toy],
            setting,
            stat(toy, setting, "w_estimate"),
            stat(toy, setting, "exact_w1"),
            stat(toy, setting, "grad_norm_mean"),
            stat(toy, setting, "max_abs_param"),
            "–" if setting == "penalty" else stat(toy, setting, "share_params_at_bound", 100) + " %",
        ]  # fmt: skip
        for toy in toys
        for setting in SETTINGS
    ]
    first = toys[0]
    median, zeros = summary["deep_median_layer_norm"], summary["deep_zero_layers"]
    config = fixed_config("s_curve", "penalty", 0, SURFACE_WIDTHS)
    clip_config = fixed_config("s_curve", "clip 0.01", 0, SURFACE_WIDTHS)
    findings = [
        f"On the {TOY_TITLES[first]} after {summary['iterations']:,} critic updates (mean ± std over {seeds} seeds), "
        f"the penalty critic's input-gradient norm on interpolates is {stat(first, 'penalty', 'grad_norm_mean')}, "
        "while the clipped critics' are "
        + ", ".join(f"{stat(first, s, 'grad_norm_mean')} (c = {s.split()[1]})" for s in SETTINGS[:3])
        + "; the share of clipped parameters sitting exactly at ±c is "
        + ", ".join(f"{stat(first, s, 'share_params_at_bound', 100)} % (c = {s.split()[1]})" for s in SETTINGS[:3])
        + ".",
        f"The penalty critic's W estimate is {stat(first, 'penalty', 'w_estimate')} against an exact W1 of "
        f"{stat(first, 'penalty', 'exact_w1')} on the same samples; with c = 0.01 the estimate is "
        f"{stat(first, 'clip 0.01', 'w_estimate')}, W scaled by the clipped critic's small Lipschitz constant. "
        f"With λ = {config.objective.penalty_weight:g} the penalty is weak: it holds the gradient norm near "
        f"{mean(first, 'penalty', 'grad_norm_mean'):.2g} rather than 1, so the penalty critic's estimate is "
        f"{mean(first, 'penalty', 'w_estimate') / mean(first, 'penalty', 'exact_w1'):.2g} times W1; its surface "
        "still follows the data (Figure 1).",
        f"In the 12-layer critic (Swiss roll, {summary['deep_iterations']:,} updates) the median over layers of "
        "‖∂loss/∂W‖ is "
        + ", ".join(f"{mean_std(median[s])} ({s})" for s in SETTINGS)
        + "".join(
            f"; with {s}, {sum(zeros[s])} layer-seeds had exactly zero gradient" for s in SETTINGS if sum(zeros[s])
        )
        + ".",
    ]
    return Section(
        name=NAME,
        title="Value surfaces and gradients: clipped vs penalised critics (WGAN-GP Fig. 1; seed 002 Fig. 3)",
        findings=findings,
        figures=[
            Figure(
                paths[0], "Critic value surfaces (seed 0), real data in white; the fixed generator is real + N(0, I)."
            ),
            Figure(paths[1], f"Critic parameters on the {TOY_TITLES[first]} (seed 0, log counts); dashed lines at ±c."),
            Figure(
                paths[2],
                "Gradient norm of the critic loss with respect to each layer's weights, 12-layer critic on "
                f"the Swiss roll (mean over the last 10% of updates); line: median over {seeds} seeds, band: "
                "min to max.",
            ),  # fmt: skip
        ],
        tables=[
            Table(
                f"Trained critics (mean ± std over {seeds} seeds): W estimate E f(real) − E f(fake) on 1,000 "
                "held-out pairs, exact W1 (POT) on the same samples, mean ‖∇x f‖ on interpolates, largest "
                "|parameter|, parameters at ±c",
                ["toy", "critic", "W estimate", "exact W1", "mean ‖∇f‖", "max |param|", "at ±c"],
                rows,
                "critics.csv",
            )
        ],  # fmt: skip
        setup=[
            f"Toys: {', '.join(TOY_TITLES[t] for t in toys)}; the S-curve's noise is 0.01 (seed 002). Fixed "
            f"generator: a fresh real sample plus N(0, I), batch {config.train.batch_size}.",
            f"Surface critics: 2 → {' → '.join(str(w) for w in config.model.critic_widths)} → 1 (ReLU), no batch "
            f"norm, init N(0, {config.model.init_std:g}); {summary['iterations']:,} updates each (seed 002: 86,000) "
            f"via `training.loop.critic_step`, seeds 0–{seeds - 1}.",
            f"Clipping: loss `{clip_config.objective.loss}` + clip c, {clip_config.optim.optimizer} "
            f"{clip_config.optim.critic_lr:g} (WGAN Algorithm 1). Penalty: loss `{config.objective.loss}` + penalty "
            f"λ = {config.objective.penalty_weight:g}, {config.optim.optimizer} {config.optim.critic_lr:g}, betas "
            f"{tuple(config.optim.betas)} (the WGAN-GP toy code and seed 002's λ = 0.1).",
            f"Deep critic: 2 → 512 ×11 → 1 (12 linear layers), He init N(0, {DEEP_INIT_STD:.4f}) so the "
            f"unconstrained network starts with gain ≈ 1 per layer; {summary['deep_iterations']:,} updates per setting "
            "and seed on the Swiss roll; the loss includes the penalty term for the penalty critic.",
        ],
    )
