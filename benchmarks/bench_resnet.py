"""The WGAN-GP paper's deep ResNets on this CPU: parameter counts and seconds per generator step, into a file.

    OMP_NUM_THREADS=1 python benchmarks/bench_resnet.py --out benchmarks/results/resnet.json

For each network of docs/studies/deep-resnet's table (64x64 and 128x128 at the paper's base width of 64, and the
narrow widths that run here), the generator's and the critic's parameter counts, and for the narrow ones the
seconds per WGAN-GP generator step (n_critic 5, batch 64, Fashion-MNIST resized, layer-norm critic, fp32), timed
over `--steps` steps after one warm-up step, with the thread count and the machine's load average beside them.
"""

import argparse
import json
import os
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# (image size, base width, generator steps to time; 0: count the parameters only)
NETWORKS = ((64, 64, 0), (128, 64, 0), (64, 8, 5), (128, 4, 2))


def overrides(size: int, width: int) -> list[str]:
    return [
        "model.architecture=resnet", f"data.image_size={size}", f"model.channels={width}", "model.z_dim=128",
        "model.critic_norm=layer", "log.progress=false", "log.tensorboard=false", "train.device=cpu",
    ]  # fmt: skip


def measure(size: int, width: int, steps: int) -> dict:
    import torch

    from wganlab.config import load_config
    from wganlab.training.distributed import DistContext
    from wganlab.training.loop import train_step
    from wganlab.training.state import build_state

    config = load_config(ROOT / "configs" / "fashion_mnist" / "wgan-gp.toml", overrides(size, width))
    s = build_state(config, DistContext.local("cpu"), progress=False)
    row = {
        "image_size": size,
        "width": width,
        "generator_parameters": sum(p.numel() for p in s.generator.network.parameters()),
        "critic_parameters": sum(p.numel() for p in s.critic.network.parameters()),
        "threads": torch.get_num_threads(),
    }
    if steps:
        train_step(s)  # warm-up: first-call allocations and oneDNN primitive creation
        start = time.perf_counter()
        for _ in range(steps):
            train_step(s)
        row.update(seconds_per_step=(time.perf_counter() - start) / steps, timed_steps=steps)
        row["load_1min_after"] = os.getloadavg()[0]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="write the rows as JSON here (and print a table either way)")
    parser.add_argument("--no-timing", action="store_true", help="count parameters only (seconds)")
    args = parser.parse_args()
    rows = [measure(size, width, 0 if args.no_timing else steps) for size, width, steps in NETWORKS]
    print("| image size | base width | generator | critic | seconds per generator step |\n|---|---|---|---|---|")
    for r in rows:
        seconds = f"{r['seconds_per_step']:.2f} ({r['timed_steps']} steps)" if "seconds_per_step" in r else "not run"
        print(f"| {r['image_size']}x{r['image_size']} | {r['width']} | {r['generator_parameters']:,} "
              f"| {r['critic_parameters']:,} | {seconds} |")  # fmt: skip
    if args.out:
        import torch

        from wganlab.provenance import cpu_capability, cpu_name

        record = {"command": "python benchmarks/bench_resnet.py" + (" --no-timing" if args.no_timing else ""),
                  "date": time.strftime("%Y-%m-%d"), "cpu": cpu_name(), "cpu_capability": cpu_capability(),
                  "torch": torch.__version__, "rows": rows}  # fmt: skip
        args.out.write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main()
