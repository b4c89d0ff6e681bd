"""Where a training step's time goes: torch.profiler over a few `train_step`s of one bench_speed case.

    OMP_NUM_THREADS=1 python benchmarks/profile_step.py cell-wgan-gp bf16+cl --iters 3

Prints the operators with the most self CPU time and their share of the profiled time, then the same time in
groups (convolutions and matrix products, their backward, normalisation, activations, optimiser, casts and copies,
the rest), so a missed speed target can be traced to what the step spends its time on.
"""

import argparse
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

GROUPS = (
    ("convolutions and matrix products", r"conv|mkldnn|addmm|\bmm\b|matmul|linear|bmm"),
    ("normalisation", r"batch_norm|layer_norm|native_norm|instance_norm|var_mean"),
    ("activations", r"relu|leaky|tanh|sigmoid|softplus|threshold"),
    ("optimiser", r"adam|rmsprop|_foreach|lerp|addcdiv|addcmul|sqrt"),
    ("casts and copies", r"copy_|_to_copy|\bto\b|clone|contiguous|empty_like|cat\b"),
)


def group_of(name: str) -> str:
    for group, pattern in GROUPS:
        if re.search(pattern, name):
            return group
    return "the rest (element-wise arithmetic, reductions, random numbers, autograd bookkeeping)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("case", help="a bench_speed case, e.g. cell-wgan-gp")
    parser.add_argument("precision", help="fp32, bf16, fp32+cl or bf16+cl")
    parser.add_argument("--iters", type=int, default=3)
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()

    import bench_speed
    import torch
    from torch.profiler import ProfilerActivity, profile

    from wganlab.training.distributed import DistContext
    from wganlab.training.loop import train_step
    from wganlab.training.state import build_state

    precision, *layout = args.precision.split("+")
    extra = ["train.channels_last=true"] if "cl" in layout else []
    s = build_state(bench_speed.our_config(args.case, precision, extra), DistContext.local("cpu"), progress=False)
    train_step(s)  # warm-up: first-call allocations and oneDNN primitive creation
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(args.iters):
            train_step(s)
    events = [e for e in prof.key_averages() if e.self_cpu_time_total > 0]
    total = sum(e.self_cpu_time_total for e in events)
    print(f"{args.case} {args.precision}, {torch.get_num_threads()} thread(s), {args.iters} generator steps: "
          f"{total / 1e6 / args.iters:.4f} s of operator time per step")  # fmt: skip
    print("| operator | calls / step | self ms / step | share |\n|---|---|---|---|")
    for e in sorted(events, key=lambda e: -e.self_cpu_time_total)[: args.top]:
        print(f"| {e.key} | {e.count / args.iters:.0f} | {e.self_cpu_time_total / 1e3 / args.iters:.1f} "
              f"| {100 * e.self_cpu_time_total / total:.1f} % |")  # fmt: skip
    groups: dict[str, float] = {}
    for e in events:
        groups[group_of(e.key)] = groups.get(group_of(e.key), 0.0) + e.self_cpu_time_total
    print("\n| group | self ms / step | share |\n|---|---|---|")
    for group, time in sorted(groups.items(), key=lambda item: -item[1]):
        print(f"| {group} | {time / 1e3 / args.iters:.1f} | {100 * time / total:.1f} % |")


if __name__ == "__main__":
    main()
