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
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import Tensor, nn

from wganlab.data.toy import sample_toy
from wganlab.metrics.transport import exact_w1
from wganlab.objectives import GradientPenalty
from wganlab.studies.critic_response import fixed_generator_state
from wganlab.studies.report import Figure, Section, Table, fmt, save_figure, write_csv, write_json
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
    objective = "wgan-gp" if setting == "penalty" else "wgan"
    overrides = [f"model.critic_widths={widths}", "model.z_dim=2", "train.batch_size=256"]
    if setting != "penalty":
        overrides.append(f"objective.clip_value={setting.split()[1]}")
    if init_std is not None:
        overrides.append(f"model.init_std={init_std!r}")
    overrides += extra
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


def run(out: Path, *, quick: bool, seeds: int | None) -> Section:
    toys = TOYS[:1] if quick else TOYS
    iterations = 100 if quick else 86_000  # seed 002's appendix: 86,000 critic updates
    deep_iterations = 20 if quick else 5_000
    seed, points = 0, 81 if quick else 201

    facts, surfaces, weights = [], {}, {}
    for toy in toys:
        for setting in SETTINGS:
            state, _ = train_critic(toy, setting, iterations, seed, SURFACE_WIDTHS)
            surfaces[toy, setting] = surface(state.critic.network, points)
            weights[toy, setting] = torch.cat([p.detach().flatten() for p in state.critic.network.parameters()])
            facts.append(critic_facts(state, setting, toy, seed))
    deep = {}
    for setting in SETTINGS:
        _, norms = train_critic("swiss_roll", setting, deep_iterations, seed, DEEP_WIDTHS, DEEP_INIT_STD)
        tail = np.array(norms[-max(1, deep_iterations // 10) :])  # the last 10% of updates
        deep[setting] = tail.mean(axis=0)

    write_csv(out / "critics.csv", facts)
    deep_rows = [
        {"setting": s, "layer": i + 1, "grad_norm": float(v)}
        for s, values in deep.items()
        for i, v in enumerate(values)
    ]
    write_csv(out / "deep_gradient_norms.csv", deep_rows)
    surface_rows = [
        {"toy": toy, "setting": setting, "min": float(v.min()), "max": float(v.max())}
        for (toy, setting), v in surfaces.items()
    ]
    write_csv(out / "surfaces_range.csv", surface_rows)
    np.savez_compressed(out / "surfaces.npz", **{f"{t}|{s}": v for (t, s), v in surfaces.items()})
    summary = {
        "iterations": iterations,
        "deep_iterations": deep_iterations,
        "deep_median_layer_norm": {s: float(np.median(v)) for s, v in deep.items()},
        "deep_min_layer_norm": {s: float(v.min()) for s, v in deep.items()},
        "deep_max_layer_norm": {s: float(v.max()) for s, v in deep.items()},
        "deep_zero_layers": {s: int((v == 0).sum()) for s, v in deep.items()},
    }
    write_json(out / "summary.json", summary)
    paths = [
        plot_surfaces(out, toys, surfaces, seed),
        plot_weights(out, toys[0], weights),
        plot_deep(out, deep),
    ]
    return section(facts, summary, paths, toys, quick)


def plot_surfaces(out: Path, toys: tuple[str, ...], surfaces: dict, seed: int) -> Path:
    figure, axes = plt.subplots(
        len(toys), len(SETTINGS), figsize=(3.3 * len(SETTINGS), 3.1 * len(toys)), layout="constrained",
        squeeze=False,
    )  # fmt: skip
    rng = make_rng(seed, "grid")
    for row, toy in enumerate(toys):
        real = sample_toy(toy, 400, 0.0, rng, torch.device("cpu")).numpy()
        for col, setting in enumerate(SETTINGS):
            axis, values = axes[row, col], surfaces[toy, setting]
            extent = (-LIMIT, LIMIT, -LIMIT, LIMIT)
            image = axis.imshow(values, origin="lower", extent=extent, cmap="viridis", aspect="equal")
            axis.contour(values, levels=12, extent=extent, colors="k", linewidths=0.4, alpha=0.6)
            axis.scatter(real[:, 0], real[:, 1], s=2, c="white", alpha=0.8)
            figure.colorbar(image, ax=axis, shrink=0.8)  # the default formatter shows an offset when needed
            axis.set_title(f"{TOY_TITLES[toy]}: {setting}", fontsize=10)
            axis.tick_params(labelsize=7)
    return save_figure(figure, out, "value_surfaces")


def plot_weights(out: Path, toy: str, weights: dict) -> Path:
    figure, axes = plt.subplots(1, len(SETTINGS), figsize=(3.4 * len(SETTINGS), 3.0), layout="constrained")
    for axis, setting in zip(axes, SETTINGS, strict=True):
        values = weights[toy, setting].numpy()
        axis.hist(values, bins=80, color="tab:blue" if setting != "penalty" else "tab:green")
        axis.set_yscale("log")
        axis.set(title=f"{TOY_TITLES[toy]}: {setting}", xlabel="critic parameter value", ylabel="count")
        if setting != "penalty":
            c = float(setting.split()[1])
            for bound in (-c, c):
                axis.axvline(bound, color="tab:red", ls="--", lw=1)
        axis.ticklabel_format(axis="x", style="sci", scilimits=(-2, 2))
    return save_figure(figure, out, "weights")


def plot_deep(out: Path, deep: dict) -> Path:
    figure, axis = plt.subplots(figsize=(6.5, 4.2), layout="constrained")
    for setting, values in deep.items():
        layers = np.arange(1, len(values) + 1)
        style = {"ls": "--", "color": "black"} if setting == "penalty" else {}
        shown = np.where(values > 0, values, np.nan)  # a norm of exactly 0 (float32 underflow) has no log
        zeros = int((values == 0).sum())
        label = setting + (f" ({zeros} layers exactly 0, not drawn)" if zeros else "")
        axis.semilogy(layers, shown, marker="o", ms=4, label=label, **style)
    axis.set(
        title="Deep critic (12 linear layers), Swiss roll",
        xlabel="critic layer (1 = input side)",
        ylabel="‖∂ loss / ∂ W_layer‖ (log scale)",
    )
    axis.grid(alpha=0.3, which="both")
    axis.legend(fontsize=8)
    return save_figure(figure, out, "deep_gradient_norms")


def section(facts: list[dict], summary: dict, paths: list[Path], toys: tuple[str, ...], quick: bool) -> Section:
    rows = [
        [
            TOY_TITLES[f["toy"]],
            f["setting"],
            fmt(f["w_estimate"]),
            fmt(f["exact_w1"]),
            f"{fmt(f['grad_norm_mean'])} ± {fmt(f['grad_norm_std'], 2)}",
            fmt(f["max_abs_param"]),
            "–" if f["setting"] == "penalty" else f"{100 * f['share_params_at_bound']:.1f}%",
        ]
        for f in facts
    ]
    first = [f for f in facts if f["toy"] == toys[0]]
    by_setting = {f["setting"]: f for f in first}
    median, low, high = (summary[f"deep_{k}_layer_norm"] for k in ("median", "min", "max"))
    zeros = summary["deep_zero_layers"]
    findings = [
        f"On the {TOY_TITLES[toys[0]]} after {summary['iterations']:,} critic updates, the penalty "
        "critic's input-"
        f"gradient norm on interpolates is {fmt(by_setting['penalty']['grad_norm_mean'])} ± "
        f"{fmt(by_setting['penalty']['grad_norm_std'], 2)}, while the clipped critics' are "
        + ", ".join(f"{fmt(by_setting[s]['grad_norm_mean'])} (c = {s.split()[1]})" for s in SETTINGS[:3])
        + f"; every clipped parameter stays within ±c, with "
        f"{100 * by_setting['clip 0.01']['share_params_at_bound']:.1f}% "
        f"exactly at ±0.01 and {100 * by_setting['clip 0.1']['share_params_at_bound']:.1f}% at ±0.1.",
        f"The penalty critic's W estimate is {fmt(by_setting['penalty']['w_estimate'])} against an exact "
        "W1 of "
        f"{fmt(by_setting['penalty']['exact_w1'])} on the same samples; with c = 0.01 the estimate is "
        f"{fmt(by_setting['clip 0.01']['w_estimate'])}, i.e. W scaled by the clipped critic's small "
        "Lipschitz "
        "constant.",
        f"In the 12-layer critic (Swiss roll, {summary['deep_iterations']:,} updates) the median over "
        "layers of ‖∂loss/∂W‖ is "
        + ", ".join(f"{fmt(median[s])} ({s}; layers {fmt(low[s])}–{fmt(high[s])})" for s in SETTINGS)
        + "".join(f"; with {s}, {zeros[s]} layers had exactly zero gradient" for s in SETTINGS if zeros[s])
        + ".",
    ]
    return Section(
        name="value-surface",
        title="Value surfaces and gradients: clipped vs penalised critics (WGAN-GP Fig. 1; seed 002 Fig. 3)",
        findings=findings,
        figures=[
            Figure(paths[0], "Critic value surfaces, real data in white; the fixed generator is real + N(0, I)."),
            Figure(paths[1], f"Critic parameters on the {TOY_TITLES[toys[0]]} (log counts); red lines at ±c."),
            Figure(
                paths[2],
                "Gradient norm of the critic loss w.r.t. each layer's weights, 12-layer critic on the "
                "Swiss roll "
                "(mean over the last 10% of updates).",
            ),
        ],
        tables=[
            Table(
                "Trained critics: W estimate E f(real) − E f(fake) on 1,000 held-out pairs, exact W1 (POT) "
                "on the "
                "same samples, ‖∇x f‖ on interpolates, parameters at the bound",
                ["toy", "critic", "W estimate", "exact W1", "‖∇f‖ (mean ± std)", "max abs param", "at ±c"],
                rows,
                "critics.csv",
            )
        ],
        setup=[
            f"Toys: "
            f"{', '.join(TOY_TITLES[t] for t in toys)}{' (quick: the S-curve only)' if quick else ''}; the "
            "S-curve's noise is 0.01 (seed 002). Fixed generator: a fresh real sample plus N(0, I), batch "
            "256.",
            f"Surface critics: 2 → 512 ×4 (ReLU) → 1, no batch norm, init N(0, 0.02); "
            f"{summary['iterations']:,} "
            "updates each (seed 002: 86,000) via `training.loop.critic_step`, seed 0.",
            "Clipping: `Wasserstein` + `WeightClip(c)`, RMSProp 5e-5 (WGAN Algorithm 1). Penalty: "
            "`Wasserstein` + "
            "`GradientPenalty(0.1)`, Adam 1e-4, betas (0.5, 0.9) (the WGAN-GP toy code and seed 002's λ = "
            "0.1).",
            f"Deep critic: 2 → 512 ×11 → 1 (12 linear layers), He init N(0, {DEEP_INIT_STD:.4f}) so the "
            f"unconstrained network starts with gain ≈ 1 per layer; {summary['deep_iterations']:,} updates "
            "per "
            "setting on the Swiss roll; the loss includes the penalty term for the penalty critic.",
        ],
    )
