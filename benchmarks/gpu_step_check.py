"""One critic step and one generator step on a device, in fp32, TF32 and bf16, against the same steps in float64
on the CPU: the loop's own `critic_step` and `generator_step`, from the same weights and the same draws.

    python benchmarks/gpu_step_check.py --device cuda      # part (b) of benchmarks/gpu_check.sh
    python benchmarks/gpu_step_check.py --device cpu       # fp32 and bf16 on the CPU (its --dry-run)

States: the Fashion-MNIST presets `fashion_mnist/wgan-gp` (DCGAN, layer-norm critic, gradient penalty) and
`fashion_mnist/gan` (DCGAN, batch norm), at model.channels=32 and a batch of 32 by default, built by `build_state`
from a fixed uint8 image array. Both players start from the same init (the "init" stream draws on the CPU). The
real batch, z and the penalty's mixing weights are drawn once on the CPU and handed to every run, so the device's
own random streams (which differ from the CPU's) play no part; the float64 run converts its networks with
`.double()` and its inputs likewise. Each step starts from the initial weights, so a difference in one step never
carries into the other.

States: built from PyTorch's default init (model.init_std=0) rather than the presets' N(0, 0.02), at which the
critic's input-gradients are so small that the penalty is lambda whatever the precision and the W estimate is a
difference of two near-zero means: nothing would be tested.

Per gradient tensor we report ||x - x64|| / ||x64|| (the error of the update's direction and size); per logged
scalar (critic and generator loss, penalty, the W or JS estimate) |x - x64| / max(|x64|, 1), since an estimate that
is a difference of means can sit near 0, where only an absolute error means anything.

Tolerances, from the unit roundoff u of the narrowest format an operand is rounded to: fp32 2^-24; TF32 2^-11 and
bf16 2^-9 for the operands of each product, accumulated in fp32. Errors add over the rounding stages a value passes
through; the longest path (the penalty's parameter gradient: the generator's 4 layers, then the critic's 4 layers
forward, their input-gradient backward, and the double backward through both) has about L = 24 of them.
- fp32: every addition of a reduction of length K rounds; with errors of random sign that is about sqrt(K) u
  (Higham's probabilistic bound). The longest reduction is a first-layer weight gradient, K = batch x 16 x 16 =
  8192 at batch 32: tol = L u sqrt(K) = 24 * 6.0e-8 * 91 = 1.3e-4.
- TF32 and bf16: the sums are exact to fp32, but each shared weight is rounded once and that error repeats in every
  sample's term of a weight gradient, whose B terms cancel like a random walk (the sum is sqrt(B) times smaller
  than the sum of its terms' sizes, the repeated error is not): tol = L u sqrt(B) at batch B = 32, TF32
  24 * 4.9e-4 * 5.7 = 6.6e-2, bf16 24 * 2.0e-3 * 5.7 = 2.7e-1.
Measured on the CPU (benchmarks/results/gpu.md): fp32 at most 2.8e-6, bf16 at most 1.35e-1 (the generator's first
layer, through the critic and every batch norm). A bf16 limit of 3e-2, what the bf16 unit
roundoff alone suggests, fails on the CPU's own correct bf16 step, so the batch factor is not optional.
"""

import argparse
import contextlib
import sys
import tempfile
from pathlib import Path
from unittest import mock

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
UNIT_ROUNDOFF = {"fp32": 2.0**-24, "tf32": 2.0**-11, "bf16": 2.0**-9}
STAGES = 24  # L: rounding stages on the longest path (see the docstring)
RECIPES = ("wgan-gp", "gan")


def tolerance(mode: str, batch_size: int) -> float:
    """L u sqrt(K) for fp32, with K the longest reduction; L u sqrt(B) for TF32 and bf16, with B the batch."""
    if mode == "fp32":
        longest_reduction = batch_size * 16 * 16  # a first-layer weight gradient: every sample, 16 x 16 positions
        return STAGES * UNIT_ROUNDOFF["fp32"] * longest_reduction**0.5
    return STAGES * UNIT_ROUNDOFF[mode] * batch_size**0.5


def build(recipe: str, device: str, precision: str, array_path: Path, channels: int, batch_size: int):
    from wganlab.config import load_config
    from wganlab.training.distributed import DistContext
    from wganlab.training.state import build_state

    overrides = [
        "data.source=array",
        f"data.path={array_path}",
        f"model.channels={channels}",
        "model.init_std=0",  # PyTorch's default init: scores, gradient norms and the penalty all of order 1
        f"train.batch_size={batch_size}",
        f"train.device={device}",
        f"train.precision={precision}",
        "log.progress=false",
        "log.tensorboard=false",
    ]
    config = load_config(ROOT / "configs" / "fashion_mnist" / f"{recipe}.toml", overrides)
    torch_device = torch.device(device)
    dist = DistContext(rank=0, world_size=1, local_rank=0, device=torch_device)
    return build_state(config, dist, progress=False)


@contextlib.contextmanager
def float32_mode(mode: str):
    """fp32: full fp32 matmuls and convolutions (cuDNN's TF32 is on by default, so it is turned off here); tf32:
    both in TF32. Restores the flags afterwards. No effect on the CPU."""
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = mode == "tf32"
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def run_steps(s, real: torch.Tensor, z: torch.Tensor, mixes: torch.Tensor, dtype: torch.dtype) -> dict:
    """The loop's generator step, then (from the initial weights again) its critic step, with `real`, `z` and the
    penalty's mixes given; returns the logged scalars and every parameter's gradient, in float64 on the CPU."""
    from wganlab.training import loop

    device = s.device
    s.noise = lambda n: z[:n].to(device, dtype)  # the one z both players' fakes come from
    rand = torch.rand

    def fixed_mixes(*shape, generator=None, device=None, **kwargs):
        shape = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], tuple | list | torch.Size) else shape
        if shape != tuple(mixes.shape):  # only the penalty's (batch, 1, 1, 1) draw is replaced
            return rand(*shape, generator=generator, device=device, **kwargs)
        return mixes.to(device)

    initial = {name: {k: v.clone() for k, v in player.network.state_dict().items()} for name, player in
               (("generator", s.generator), ("critic", s.critic))}  # fmt: skip
    out: dict[str, torch.Tensor] = {}
    loop.generator_step(s)
    out.update({f"generator.{n}": p.grad for n, p in s.generator.network.named_parameters() if p.grad is not None})
    s.generator.network.load_state_dict(initial["generator"])
    with mock.patch("torch.rand", fixed_mixes):
        loop.critic_step(s, real.to(device, dtype))
    out.update({f"critic.{n}": p.grad for n, p in s.critic.network.named_parameters() if p.grad is not None})
    out.update({name: torch.tensor(value) for name, value in s.stats.means().items()})  # the one host sync
    return {name: value.detach().double().cpu() for name, value in out.items()}


def relative_differences(result: dict, exact: dict) -> dict[str, float]:
    """||x - x64|| / ||x64|| per gradient tensor; |x - x64| / max(|x64|, 1) per logged scalar (a loss or an estimate
    that is a difference of means can sit near 0, where only an absolute error means anything)."""
    differences = {}
    for name, reference in exact.items():
        error = (result[name] - reference).norm().item()
        scale = max(reference.norm().item(), 1.0) if reference.dim() == 0 else reference.norm().item()
        differences[name] = error / scale if scale > 0 else error
    return differences


def check(recipe: str, device: str, modes: list[str], array: Path, channels: int, batch_size: int) -> list[dict]:
    rng = torch.Generator().manual_seed(1)
    real = torch.rand(batch_size, 1, 32, 32, generator=rng) * 2 - 1
    z = torch.randn(batch_size, 100, generator=rng)
    mixes = torch.rand(batch_size, 1, 1, 1, generator=rng)

    exact_state = build(recipe, "cpu", "fp32", array, channels, batch_size)
    exact_state.generator.network.double()  # same Parameter objects: the optimisers still hold them
    exact_state.critic.network.double()
    exact = run_steps(exact_state, real, z, mixes, torch.float64)
    rows = []
    for mode in modes:
        with float32_mode(mode):
            s = build(recipe, device, "bf16" if mode == "bf16" else "fp32", array, channels, batch_size)
            result = run_steps(s, real, z, mixes, torch.float32)
        differences = relative_differences(result, exact)
        limit = tolerance(mode, batch_size)
        worst = max(differences, key=differences.__getitem__)
        rows.append(
            {
                "recipe": recipe,
                "mode": mode,
                "device": device,
                "tolerance": limit,
                "worst": worst,
                "worst_value": differences[worst],
                "differences": differences,
                "passed": all(value <= limit for value in differences.values()),
            }
        )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", help="cuda, cuda:N or cpu (cpu: fp32 and bf16 only)")
    parser.add_argument("--channels", type=int, default=32, help="model.channels of both DCGANs")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--recipes", default=",".join(RECIPES))
    parser.add_argument("--verbose", action="store_true", help="print every tensor's difference")
    args = parser.parse_args()
    torch.backends.cudnn.deterministic = True  # the float64 side is the CPU's; this keeps the device side stable
    modes = ["fp32", "bf16"] if args.device == "cpu" else ["fp32", "tf32", "bf16"]
    print(f"torch {torch.__version__}, device {args.device}"
          + (f" ({torch.cuda.get_device_name(args.device)})" if args.device.startswith("cuda") else ""))  # fmt: skip
    all_passed = True
    with tempfile.TemporaryDirectory() as folder:
        array = Path(folder) / "images.npy"
        np.save(array, np.random.default_rng(0).integers(0, 256, (args.batch_size, 32, 32), dtype=np.uint8))
        print("| recipe | mode | tensors | largest relative difference (tensor) | tolerance | result |")
        print("|---|---|---|---|---|---|")
        for recipe in args.recipes.split(","):
            for row in check(recipe, args.device, modes, array, args.channels, args.batch_size):
                all_passed &= row["passed"]
                result = "pass" if row["passed"] else "FAIL"
                print(f"| {recipe} | {row['mode']} | {len(row['differences'])} | {row['worst_value']:.2e} "
                      f"({row['worst']}) | {row['tolerance']:.1e} | {result} |")  # fmt: skip
                if args.verbose or not row["passed"]:
                    for name, value in row["differences"].items():
                        print(f"    {name}: {value:.2e}")
    print(f"step check: {'pass' if all_passed else 'FAIL'}")
    return 0 if all_passed else 1


if __name__ == "__main__":
    sys.exit(main())
