"""WGAN-GP's critic loss and backward three ways, side by side (issue 33, idea 5): the library's penalty
(`torch.autograd.grad(..., create_graph=True)`, then a double backward), the same penalty written with `torch.func`
(the gradient of a function that itself takes an input gradient), and that `torch.func` loss under `torch.compile`.

    OMP_NUM_THREADS=1 python benchmarks/bench_penalty.py --rounds 3        # the default image cell, fp32 and bf16+cl
    python benchmarks/bench_penalty.py --check                             # float64, tiny: the three agree

Every variant runs in its own subprocess (fresh interpreter, so a compiled graph or a warm allocator does not carry
over), rounds alternate the order (ABC CBA ...), and each prints seconds per critic loss + backward on the default
image cell's critic (DCGAN, 32 channels, no normalisation, batch 64, Fashion-MNIST 32 px shapes, λ = 10), its ratio
to the library's path in the same round, the largest relative difference of any parameter gradient from the library's
path, and the compile time. The optimiser step is left out: it is the same in all three.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = ("autograd", "func", "func+compile")
CELL = "docs/studies/records/image-runs/dcgan-bn-none/wgan-gp/seed-0/config.toml"


def worker(variant: str, precision: str, iters: int, warmup: int, channels: int, batch: int) -> dict:
    import torch
    from torch.func import functional_call, grad

    from wganlab.config import load_config
    from wganlab.models.dcgan import build_dcgan
    from wganlab.objectives.constraints.penalty import GradientPenalty

    dtype = torch.float64 if precision == "fp64" else torch.float32
    torch.manual_seed(0)
    config = load_config(ROOT / CELL, [f"model.channels={channels}"])  # the committed default cell's networks
    _, critic = build_dcgan(config.model, (1, 32, 32))
    critic = critic.to(dtype)
    real, fake = (torch.rand(batch, 1, 32, 32, dtype=dtype) * 2 - 1 for _ in range(2))
    if precision == "bf16+cl":
        critic = critic.to(memory_format=torch.channels_last)
        real, fake = (x.contiguous(memory_format=torch.channels_last) for x in (real, fake))
    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16+cl")
    penalty = GradientPenalty(10.0)
    params, buffers = dict(critic.named_parameters()), dict(critic.named_buffers())

    def library_loss(rng: torch.Generator) -> torch.Tensor:
        with autocast:
            loss = critic(fake).float().mean() - critic(real).float().mean()
            return loss + penalty.penalty(critic, real, fake, rng)

    def func_loss(p: dict, real: torch.Tensor, fake: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        def scores(x: torch.Tensor) -> torch.Tensor:
            return functional_call(critic, (p, buffers), (x,))

        with autocast:
            loss = scores(fake).float().mean() - scores(real).float().mean()
            interpolates = (eps * real + (1 - eps) * fake).to(real.dtype)
            gradients = grad(lambda x: scores(x).float().sum())(interpolates)
        gradients = gradients.flatten(1).to(torch.promote_types(gradients.dtype, torch.float32))
        norms = (gradients.square().sum(dim=1) + 1e-12).sqrt()
        return loss + 10.0 * (norms - 1.0).square().mean()

    compiled = torch.compile(func_loss) if variant == "func+compile" else func_loss

    def step() -> None:
        critic.zero_grad(set_to_none=True)
        rng = torch.Generator().manual_seed(1)
        if variant == "autograd":
            library_loss(rng).backward()
        else:  # the same eps as GradientPenalty draws from the same generator state
            eps = torch.rand((batch, 1, 1, 1), generator=rng)
            compiled(params, real, fake, eps).backward()

    start = time.perf_counter()
    step()
    first = time.perf_counter() - start
    gradients = {name: p.grad.double().clone() for name, p in params.items()}
    for _ in range(warmup):
        step()
    start = time.perf_counter()
    for _ in range(iters):
        step()
    seconds = (time.perf_counter() - start) / iters
    return {"seconds": seconds, "first_call": first, "gradients": {k: v.tolist() for k, v in gradients.items()}}


def run(variant: str, precision: str, args) -> dict:
    command = [sys.executable, __file__, "--worker", variant, precision, str(args.iters), str(args.warmup),
               str(args.channels), str(args.batch)]  # fmt: skip
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), *filter(None, [os.environ.get("PYTHONPATH")])]),
    }
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"bench_penalty: {variant} {precision} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.splitlines()[-1])


def max_relative_difference(a: dict, b: dict) -> float:
    import torch

    worst = 0.0
    for name in a:
        x, y = torch.tensor(a[name], dtype=torch.float64), torch.tensor(b[name], dtype=torch.float64)
        worst = max(worst, float((x - y).abs().max() / x.abs().max().clamp_min(1e-300)))
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", nargs=6, help=argparse.SUPPRESS)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--iters", type=int, default=10, help="timed loss + backward per subprocess")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--precisions", default="fp32,bf16+cl", help="fp32, bf16+cl and/or fp64")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--channels", type=int, default=32)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--check", action="store_true", help="float64 at 8 channels, batch 4, 1 round, no compile")
    args = parser.parse_args()
    if args.worker:
        variant, precision, iters, warmup, channels, batch = args.worker
        print(json.dumps(worker(variant, precision, int(iters), int(warmup), int(channels), int(batch))))
        return
    if args.check:
        args.rounds, args.iters, args.warmup, args.channels, args.batch = 1, 1, 0, 8, 4
        args.precisions, args.variants = "fp64", "autograd,func"
    variants = args.variants.split(",")
    if variants[0] != "autograd":
        raise SystemExit("bench_penalty: --variants must start with autograd (the ratios are to it)")
    import torch

    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), load {os.getloadavg()[0]:.1f}, critic "
          f"DCGAN {args.channels} channels, batch {args.batch}, {args.rounds} rounds x {args.iters} timed")  # fmt: skip
    print(
        "| precision | variant | s / critic loss + backward (median) | ratio to autograd (per round) "
        "| max rel. gradient difference | first call s |\n|---|---|---|---|---|---|"
    )
    for precision in args.precisions.split(","):
        results: dict[str, list[dict]] = {v: [] for v in variants}
        for round_index in range(args.rounds):
            for variant in variants if round_index % 2 == 0 else variants[::-1]:
                results[variant].append(run(variant, precision, args))
        for variant in variants:
            ratios = [r["seconds"] / b["seconds"] for r, b in zip(results[variant], results["autograd"], strict=True)]
            difference = max_relative_difference(results["autograd"][0]["gradients"], results[variant][0]["gradients"])
            seconds = statistics.median(r["seconds"] for r in results[variant])
            print(f"| {precision} | {variant} | {seconds:.4f} | {statistics.median(ratios):.2f}x "
                  f"({', '.join(f'{x:.2f}' for x in ratios)}) | {difference:.1e} "
                  f"| {statistics.median(r['first_call'] for r in results[variant]):.1f} |")  # fmt: skip


if __name__ == "__main__":
    main()
