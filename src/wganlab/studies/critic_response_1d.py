"""The GAN discriminator's vanishing gradient vs the WGAN critic's usable one (seed 002 Fig. 2, appendix;
WGAN paper Fig. 2).

Real data N(-1, 1), a fixed "generator" N(+1, 1), batch 1024, critic 1 -> 512 -> 512 -> 512 -> 1 with ReLU and
no batch norm. Both critics are trained by the training loop's own `critic_step` on a TrainState whose
generator is replaced by a fixed shift of its noise, so the updates are exactly those of a real run.
"""

from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from wganlab.config import load_config
from wganlab.studies.common import style
from wganlab.studies.common.report import Figure, Section, Table, mean_std, read_csv, save_figure, write_csv, write_json
from wganlab.studies.common.runner import Plan, Run, read_json
from wganlab.training.distributed import DistContext
from wganlab.training.loop import critic_step
from wganlab.training.state import TrainState, build_state, make_rng

CPU = torch.device("cpu")
PROBE_X = 4.0


class ShiftedNoise(nn.Module):
    """A fixed generator: z ~ N(0, I) -> z + shift, i.e. N(shift, I) (seed 002's fake data at x = +1)."""

    def __init__(self, shift: float):
        super().__init__()
        self.shift = shift

    def forward(self, z: Tensor) -> Tensor:
        return z + self.shift


def fixed_generator_state(
    objective: str, source: str, overrides: list[str], generator: nn.Module, seed: int
) -> TrainState:
    """A CPU TrainState from configs/<source>/<objective>.toml whose generator is `generator` (fixed)."""
    config = load_config(
        f"{source}/{objective}",
        [*overrides, f"train.seed={seed}", "train.device=cpu", "log.progress=false", "log.tensorboard=false"],
    )
    state = build_state(config, DistContext(rank=0, world_size=1, local_rank=0, device=CPU), progress=False)
    state.generator.network = state.generator.wrapped = generator
    return state


def train_config(objective: str, seed: int, widths: str = "512,512,512", batch_size: int = 1024):
    overrides = [f"train.batch_size={batch_size}", "model.z_dim=1", f"model.critic_widths={widths}"]
    return load_config(f"gaussian_1d/{objective}", [*overrides, f"train.seed={seed}"])


def train_critic(
    objective: str,
    iterations: int,
    seed: int,
    widths: str = "512,512,512",
    batch_size: int = 1024,
    extra: tuple[str, ...] = (),
) -> TrainState:
    """`iterations` critic updates of the gaussian_1d preset's objective against the fixed N(+1, 1).
    `extra` overrides go last (tests use them for small, fast settings)."""
    overrides = [f"train.batch_size={batch_size}", "model.z_dim=1", f"model.critic_widths={widths}", *extra]
    state = fixed_generator_state(objective, "gaussian_1d", overrides, ShiftedNoise(1.0), seed)
    for _ in range(iterations):
        critic_step(state, state.data.next_batch(state.local_batch_size))
    return state


def response(critic: nn.Module, x: Tensor, use_sigmoid: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(value, d value/dx, d score/dx) on the points x; value is D = sigmoid(score) for the GAN."""
    x = x.clone().requires_grad_(True)
    scores = critic(x)
    (score_grad,) = torch.autograd.grad(scores.sum(), x, retain_graph=True)
    value = torch.sigmoid(scores) if use_sigmoid else scores
    (value_grad,) = torch.autograd.grad(value.sum(), x)
    return (value.detach().numpy(), value_grad[:, 0].numpy(), score_grad[:, 0].numpy())


NAME = "critic-response-1d"
KIND = "toy"
TAKES_DATA = False
SIZES = {
    "quick": {"seeds": 2, "iterations": 100},
    "default": {"seeds": 3, "iterations": 10_000},  # seed 002: 10,000 iterations
    "paper": {"seeds": 5, "iterations": 10_000},
}
OBJECTIVES = ("gan", "wgan")
POINTS = 1001


def plan(size: str, seeds: int | None) -> Plan:
    settings = dict(SIZES[size])
    settings["seeds"] = seeds or settings["seeds"]
    runs = [
        Run(
            key=f"{objective}/seed-{seed}",
            task=True,
            cost=settings["iterations"] * (1.0 if objective == "gan" else 1.3),
            labels=(("objective", objective), ("seed", seed)),
        )  # fmt: skip
        for objective in OBJECTIVES
        for seed in range(settings["seeds"])
    ]
    return Plan(NAME, size, settings["seeds"], runs, settings)


def run_task(plan: Plan, run: Run, folder: Path) -> dict:
    """Train one critic against the fixed N(+1, 1) and record its response on [-5, 5]."""
    objective, seed = run.label("objective"), run.label("seed")
    # Tests run smaller critics by putting widths, batch_size and extra overrides into the plan's settings.
    sizes = {key: plan.settings[key] for key in ("widths", "batch_size", "extra") if key in plan.settings}
    state = train_critic(objective, plan.settings["iterations"], seed, **sizes)
    x = torch.linspace(-5, 5, POINTS).unsqueeze(1)
    value, value_grad, score_grad = response(state.critic.network, x, use_sigmoid=objective == "gan")
    write_csv(folder / "response.csv", [
        {"x": float(x[i, 0]), "value": float(value[i]), "dvalue_dx": float(value_grad[i]),
         "dscore_dx": float(score_grad[i])}
        for i in range(POINTS)
    ])  # fmt: skip
    xs = x[:, 0].numpy()
    at = int(np.argmin(np.abs(xs - PROBE_X)))
    peak = float(np.abs(value_grad).max())
    return {
        "value_at_4": float(value[at]),
        "grad_at_4": float(value_grad[at]),
        "score_grad_at_4": float(score_grad[at]),
        "max_abs_grad": peak,
        "relative_grad_at_4": abs(float(value_grad[at])) / peak,
        "value_at_minus_1": float(value[int(np.argmin(np.abs(xs + 1)))]),
        "value_at_plus_1": float(value[int(np.argmin(np.abs(xs - 1)))]),
    }


def collect(plan: Plan, study_dir: Path) -> Section:
    results = {(run.label("objective"), run.label("seed")): read_json(plan.folder(study_dir, run) / "result.json")
               for run in plan.runs}  # fmt: skip
    curves = {(run.label("objective"), run.label("seed")): read_csv(plan.folder(study_dir, run) / "response.csv")
              for run in plan.runs}  # fmt: skip
    rows = [{"objective": o, "seed": seed, **r} for (o, seed), r in results.items()]
    write_csv(study_dir / "critics.csv", rows)
    ratios = [
        results["gan", seed]["relative_grad_at_4"] / results["wgan", seed]["relative_grad_at_4"]
        for seed in range(plan.seeds)
    ]
    write_json(
        study_dir / "summary.json",
        {"iterations": plan.settings["iterations"], "seeds": plan.seeds, "relative_grad_ratio_gan_over_wgan": ratios},
    )
    return section(plan, results, ratios, plot(study_dir, curves, plan.seeds))


def plot(study_dir: Path, curves: dict, seeds: int) -> Path:
    rng = make_rng(0, "eval")
    real = (-1.0 + torch.randn(20_000, generator=rng)).numpy()
    fake = (1.0 + torch.randn(20_000, generator=rng)).numpy()
    bins = np.linspace(-5, 5, 81)
    tiny = 1e-12  # log axes: an exactly-zero gradient is drawn at the floor

    def column(objective: str, key: str) -> tuple[np.ndarray, np.ndarray]:
        table = [curves[objective, seed] for seed in range(seeds)]
        x = np.array([float(r["x"]) for r in table[0]])
        return x, np.array([[float(r[key]) for r in rows] for rows in table])

    with style.rc():
        figure, axes = style.figure(2, 2, width=12, height=8.4)
        for axis, objective, name, label in (
            (axes[0, 0], "gan", "GAN discriminator", "D(x) = sigmoid(score)"),
            (axes[0, 1], "wgan", "WGAN critic (weights clipped to ±0.01)", "critic f(x)"),
        ):
            axis.hist(real, bins=bins, density=True, alpha=0.35, color=style.REAL_COLOUR, label="real N(−1, 1)")
            axis.hist(fake, bins=bins, density=True, alpha=0.35, color=style.EXTRA_COLOURS[0], label="fake N(+1, 1)")
            axis.set(xlabel="x", ylabel="density", title=name, xlim=(-5, 5))
            twin = axis.twinx()
            x, values = column(objective, "value")
            for index, curve in enumerate(values):
                twin.plot(x, curve, color=style.colour(objective), lw=1.8, alpha=0.8,
                          label=f"{label}, {seeds} seeds" if index == 0 else None)  # fmt: skip
            twin.set_ylabel(label, color=style.colour(objective))
            twin.grid(False)
            for scaled in (axis, twin):  # headroom: the legend sits above the histograms and curves
                low, high = scaled.get_ylim()
                scaled.set_ylim(low, low + 1.45 * (high - low))
            handles = axis.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
            twin.legend(handles=handles, loc="upper right", framealpha=0.95)
        for objective in OBJECTIVES:
            x, grads = column(objective, "dvalue_dx")
            grads = np.abs(grads)
            name = "GAN |dD/dx|" if objective == "gan" else "WGAN |df/dx|"
            for index, curve in enumerate(grads):
                extra = {"label": name if index == 0 else None}
                axes[1, 0].semilogy(x, np.maximum(curve / curve.max(), tiny), color=style.colour(objective), **extra)
                axes[1, 1].semilogy(x, np.maximum(curve, tiny), color=style.colour(objective), **extra)
        x, score = column("gan", "dscore_dx")
        for index, curve in enumerate(np.abs(score)):
            axes[1, 1].semilogy(x, np.maximum(curve, tiny), color=style.colour("gan"), ls=":",
                                label="GAN |d score/dx|" if index == 0 else None)  # fmt: skip
        axes[1, 0].set(title="Slope relative to its own peak (scale-free)", xlabel="x", ylabel="|slope| / max |slope|")
        axes[1, 1].set(title="Absolute slopes", xlabel="x", ylabel="|slope|")
        for axis in axes[1]:
            axis.axvline(PROBE_X, color="grey", ls="--", lw=1, label=f"x = {PROBE_X:g}")
            axis.set_xlim(-5, 5)
            axis.legend(loc="lower center")
        return save_figure(figure, study_dir, "critic_response")


def section(plan: Plan, results: dict, ratios: list[float], figure_path: Path) -> Section:
    def stat(objective: str, key: str) -> str:
        return mean_std([results[objective, seed][key] for seed in range(plan.seeds)])

    rows = [
        [name]
        + [
            stat(objective, key)
            for key in (
                "value_at_minus_1",
                "value_at_plus_1",
                "value_at_4",
                "grad_at_4",
                "max_abs_grad",
                "relative_grad_at_4",
            )
        ]  # fmt: skip
        for name, objective in (("GAN: D = sigmoid(score)", "gan"), ("WGAN: f", "wgan"))
    ]
    iterations = plan.settings["iterations"]
    findings = [
        f"After {iterations:,} critic updates ({plan.seeds} seeds, mean ± std), the GAN discriminator gives "
        f"D(4) = {stat('gan', 'value_at_4')} with dD/dx(4) = {stat('gan', 'grad_at_4')}, "
        f"{stat('gan', 'relative_grad_at_4')} of its own peak slope; the WGAN critic's slope at x = 4 is "
        f"{stat('wgan', 'grad_at_4')}, {stat('wgan', 'relative_grad_at_4')} of its peak. Relative to each "
        f"function's scale, the GAN's gradient at x = 4 is {mean_std(ratios)} times the WGAN's.",
        f"The GAN's raw score keeps a slope (d score/dx(4) = {stat('gan', 'score_grad_at_4')}): what vanishes is "
        "the gradient through the sigmoid, which is what the minimax generator loss log(1 − D) sees; the "
        "non-saturating loss −log D rescales it by 1/D.",
    ]
    gan_config, wgan_config = (train_config(o, 0) for o in OBJECTIVES)
    return Section(
        name=NAME,
        title="Critic response in 1-D: vanishing GAN gradient vs WGAN critic (seed 002 Fig. 2)",
        findings=findings,
        figures=[
            Figure(
                figure_path,
                "Top: D(x) of the GAN and f(x) of the WGAN critic (one line per seed) over the "
                "real and the fixed fake histograms. Bottom: |slope| along x, relative to its peak (left) "
                "and absolute (right).",
            )
        ],  # fmt: skip
        tables=[
            Table(
                f"Critic values and slopes (mean ± std over {plan.seeds} seeds)",
                [
                    "critic",
                    "value at x=−1",
                    "value at x=+1",
                    "value at x=4",
                    "slope at x=4",
                    "max |slope|",
                    "slope at 4 / max",
                ],
                rows,
                "critics.csv",
            )
        ],  # fmt: skip
        setup=[
            f"Real N(−1, 1) (the `gaussian_1d` toy), fake N(+1, 1) from a fixed generator z + 1, fresh batches of "
            f"{gan_config.train.batch_size} each update; critic 1 → "
            f"{' → '.join(str(w) for w in gan_config.model.critic_widths)} → 1, ReLU, no batch norm, init "
            f"N(0, {gan_config.model.init_std:g}).",
            f"GAN: loss `{gan_config.objective.loss}`, Adam {gan_config.optim.critic_lr:g}, betas "
            f"{tuple(gan_config.optim.betas)}. WGAN: loss `{wgan_config.objective.loss}` + clip c = "
            f"{wgan_config.objective.clip_value:g}, RMSProp {wgan_config.optim.critic_lr:g} (the `gaussian_1d` "
            f"presets). {iterations:,} updates each via `training.loop.critic_step` (seed 002: 10,000), seeds "
            f"0–{plan.seeds - 1}.",
            "Slopes by autograd on 1,001 points in [−5, 5]. The WGAN critic's scale is set by the clipping (its K), "
            "so the scale-free comparison divides each slope by its own maximum.",
        ],
    )
