"""The GAN discriminator's vanishing gradient vs the WGAN critic's usable one (seed 002 Fig. 2, appendix;
WGAN paper Fig. 2).

Real data N(-1, 1), a fixed "generator" N(+1, 1), batch 1024, critic 1 -> 512 -> 512 -> 512 -> 1 with ReLU and
no batch norm. Both critics are trained by the training loop's own `critic_step` on a TrainState whose
generator is replaced by a fixed shift of its noise, so the updates are exactly those of a real run.
"""

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import Tensor, nn

from wganlab.config import load_config
from wganlab.studies.report import Figure, Section, Table, fmt, save_figure, write_csv, write_json
from wganlab.training.distributed import DistContext
from wganlab.training.loop import critic_step
from wganlab.training.state import TrainState, build_state, make_rng

CPU = torch.device("cpu")
CONFIGS = Path(__file__).resolve().parents[3] / "configs"
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
        CONFIGS / source / f"{objective}.toml",
        [*overrides, f"train.seed={seed}", "train.device=cpu", "log.progress=false", "log.tensorboard=false"],
    )
    state = build_state(config, DistContext(rank=0, world_size=1, local_rank=0, device=CPU), progress=False)
    state.generator.network = state.generator.wrapped = generator
    return state


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


def measure(iterations: int, seed: int, points: int = 1001, **sizes) -> tuple[list[dict], dict]:
    """Train both critics (`sizes`: widths, batch_size, extra); return their responses on [-5, 5] as rows,
    and the headline numbers."""
    x = torch.linspace(-5, 5, points).unsqueeze(1)
    curves, summary = {}, {"iterations": iterations, "seed": seed}
    for objective in ("gan", "wgan"):
        state = train_critic(objective, iterations, seed, **sizes)
        value, value_grad, score_grad = response(state.critic.network, x, use_sigmoid=objective == "gan")
        curves[objective] = (value, value_grad, score_grad)
        at = int(np.argmin(np.abs(x[:, 0].numpy() - PROBE_X)))
        peak = float(np.abs(value_grad).max())
        summary[objective] = {
            "value_at_4": float(value[at]),
            "grad_at_4": float(value_grad[at]),
            "score_grad_at_4": float(score_grad[at]),
            "max_abs_grad": peak,
            "relative_grad_at_4": abs(float(value_grad[at])) / peak,
            "value_at_minus_1": float(value[int(np.argmin(np.abs(x[:, 0].numpy() + 1)))]),
            "value_at_plus_1": float(value[int(np.argmin(np.abs(x[:, 0].numpy() - 1)))]),
        }
    summary["relative_grad_ratio_gan_over_wgan"] = (
        summary["gan"]["relative_grad_at_4"] / summary["wgan"]["relative_grad_at_4"]
    )
    rows = [
        {
            "x": float(x[i, 0]),
            "gan_D": float(curves["gan"][0][i]),
            "gan_dD_dx": float(curves["gan"][1][i]),
            "gan_dscore_dx": float(curves["gan"][2][i]),
            "wgan_f": float(curves["wgan"][0][i]),
            "wgan_df_dx": float(curves["wgan"][1][i]),
        }
        for i in range(points)
    ]
    return rows, summary


def run(out: Path, *, quick: bool, seeds: int | None) -> Section:
    iterations = 100 if quick else 10_000
    seed = 0
    rows, summary = measure(iterations, seed)
    write_csv(out / "response.csv", rows)
    write_json(out / "summary.json", summary)
    figure_path = plot(out, rows, seed)
    return section(summary, figure_path)


def plot(out: Path, rows: list[dict], seed: int) -> Path:
    rng = make_rng(seed, "eval")
    real = (-1.0 + torch.randn(20_000, generator=rng)).numpy()
    fake = (1.0 + torch.randn(20_000, generator=rng)).numpy()
    x = np.array([r["x"] for r in rows])
    bins = np.linspace(-5, 5, 81)
    figure, axes = plt.subplots(2, 2, figsize=(12, 8), layout="constrained")
    for axis, key, title, label in (
        (axes[0, 0], "gan_D", "GAN discriminator", "D(x) = sigmoid(score)"),
        (axes[0, 1], "wgan_f", "WGAN critic (weights clipped to ±0.01)", "critic f(x)"),
    ):
        axis.hist(real, bins=bins, density=True, alpha=0.45, color="tab:blue", label="real N(-1, 1)")
        axis.hist(fake, bins=bins, density=True, alpha=0.45, color="tab:orange", label="fake N(+1, 1)")
        axis.set(xlabel="x", ylabel="density", title=title, xlim=(-5, 5))
        twin = axis.twinx()
        twin.plot(x, [r[key] for r in rows], color="tab:green", lw=2, label=label)
        twin.set_ylabel(label, color="tab:green")
        handles = axis.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
        twin.legend(handles=handles, fontsize=8, loc="upper left", framealpha=0.95)  # the top layer
    gan_grad, wgan_grad = np.abs([r["gan_dD_dx"] for r in rows]), np.abs([r["wgan_df_dx"] for r in rows])
    tiny = 1e-12  # log axes: an exactly-zero gradient is drawn at the floor
    gan_style, wgan_style = {"color": "tab:red"}, {"color": "tab:green"}
    axes[1, 0].semilogy(x, np.maximum(gan_grad / gan_grad.max(), tiny), **gan_style, label="GAN: |dD/dx| / max |dD/dx|")
    axes[1, 0].semilogy(
        x, np.maximum(wgan_grad / wgan_grad.max(), tiny), **wgan_style, label="WGAN: |df/dx| / max |df/dx|"
    )
    axes[1, 0].axvline(PROBE_X, color="grey", ls="--", lw=1, label=f"x = {PROBE_X:g}")
    axes[1, 0].set(title="Gradient relative to its own peak (scale-free)", xlabel="x", ylabel="relative |gradient|")
    axes[1, 1].semilogy(x, np.maximum(gan_grad, tiny), **gan_style, label="GAN |dD/dx|")
    axes[1, 1].semilogy(
        x, np.maximum(np.abs([r["gan_dscore_dx"] for r in rows]), tiny), **gan_style, ls=":",
        label="GAN |d score/dx|",
    )  # fmt: skip
    axes[1, 1].semilogy(x, np.maximum(wgan_grad, tiny), **wgan_style, label="WGAN |df/dx|")
    axes[1, 1].axvline(PROBE_X, color="grey", ls="--", lw=1)
    axes[1, 1].set(title="Absolute gradients", xlabel="x", ylabel="|gradient|")
    for axis in axes[1]:
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
        axis.set_xlim(-5, 5)
    return save_figure(figure, out, "critic_response")


def section(summary: dict, figure_path: Path) -> Section:
    gan, wgan = summary["gan"], summary["wgan"]
    rows = [
        [
            name,
            fmt(v["value_at_minus_1"]),
            fmt(v["value_at_plus_1"]),
            fmt(v["value_at_4"]),
            fmt(v["grad_at_4"]),
            fmt(v["max_abs_grad"]),
            fmt(v["relative_grad_at_4"]),
        ]
        for name, v in (("GAN: D = sigmoid(score)", gan), ("WGAN: f", wgan))
    ]
    findings = [
        f"After {summary['iterations']:,} critic updates, the GAN discriminator gives D(4) = "
        f"{fmt(gan['value_at_4'])} "
        f"with dD/dx(4) = {fmt(gan['grad_at_4'])}, {fmt(gan['relative_grad_at_4'])} of its own peak slope; "
        "the WGAN "
        f"critic's slope at x = 4 is {fmt(wgan['grad_at_4'])}, {fmt(wgan['relative_grad_at_4'])} of its "
        "peak, so "
        f"relative to each function's scale the GAN's gradient at x = 4 is "
        f"{fmt(summary['relative_grad_ratio_gan_over_wgan'])} times the WGAN's.",
        f"The GAN's raw score keeps a slope (d score/dx(4) = {fmt(gan['score_grad_at_4'])}): what vanishes "
        "is the "
        "gradient through the sigmoid, which is what the minimax generator loss log(1 − D) sees; the "
        "non-saturating loss −log D rescales it by 1/D.",
    ]
    return Section(
        name="critic-response-1d",
        title="Critic response in 1-D: vanishing GAN gradient vs WGAN critic (seed 002 Fig. 2)",
        findings=findings,
        figures=[
            Figure(
                figure_path,
                "Top: D(x) of the GAN and f(x) of the WGAN critic over the real (blue) and fixed fake "
                "(orange) "
                "histograms. Bottom: |gradient| along x, relative to its peak (left) and absolute (right).",
            )
        ],
        tables=[
            Table(
                "Critic values and slopes",
                [
                    "critic",
                    "value at x=−1",
                    "value at x=+1",
                    "value at x=4",
                    "slope at x=4",
                    "max abs slope",
                    "slope at 4 / max",
                ],
                rows,
                "response.csv",
            )  # fmt: skip
        ],
        setup=[
            "Real N(−1, 1) (the `gaussian_1d` toy), fake N(+1, 1) from a fixed generator z + 1, fresh "
            "batches of "
            "1024 each update; critic 1 → 512 → 512 → 512 → 1, ReLU, no batch norm, init N(0, 0.02).",
            f"GAN: `StandardGAN.critic_loss` (loss `standard`), Adam 2e-4, betas (0.5, 0.999). WGAN: `Wasserstein` + "
            f"`WeightClip(0.01)`, RMSProp 5e-5 (the `configs/gaussian_1d` presets). "
            f"{summary['iterations']:,} "
            f"updates each via `training.loop.critic_step` (seed 002: 10,000), seed {summary['seed']}.",
            "Slopes by autograd on 1,001 points in [−5, 5]. The WGAN critic's scale is set by the clipping "
            "(its K), so the scale-free comparison divides each slope by its own maximum.",
        ],
    )
