"""bf16 quality parity: WGAN-GP on 8 Gaussians, final exact W1 (POT) in bf16 and fp32 over several seeds.

    python benchmarks/bf16_parity.py --steps 400 --seeds 5 --jobs 2 --out benchmarks/results/bf16_parity.md

Every run is `wganlab.training.loop.train` on configs/eight_gaussians/wgan-gp.toml (batch 256, lambda 0.1,
Adam 1e-4 / 0.5 / 0.9, n_critic 5) with train.precision and train.seed changed, evaluated once at the last
step by the loop itself (exact W1 between `log.eval_samples` generated points and as many fresh real ones,
drawn from an RNG seeded by (seed, step), so fp32 and bf16 of one seed are measured against the same reals).
Runs go to a temporary folder; only the table is kept.
"""

import argparse
import json
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def one_run(precision: str, seed: int, steps: int, threads: int) -> dict:
    import torch

    torch.set_num_threads(threads)
    from wganlab.config import load_config
    from wganlab.training.loop import train

    config = load_config(
        ROOT / "configs/eight_gaussians/wgan-gp.toml",
        [
            f"train.steps={steps}",
            f"train.seed={seed}",
            f"train.precision={precision}",
            "train.device=cpu",
            f"log.eval_every={steps}",
            f"log.log_every={steps}",
            f"log.sample_every={steps}",
            f"log.checkpoint_every={steps}",
            "log.progress=false",
            "log.tensorboard=false",
        ],
    )
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        train(config, Path(folder) / "run", progress=False)
        seconds = time.perf_counter() - start
        records = [json.loads(line) for line in (Path(folder) / "run" / "metrics.jsonl").open()]
    final = [r for r in records if r["kind"] == "eval"][-1]
    return {"precision": precision, "seed": seed, "w1": final["w1"], "modes_hit": final["modes_hit"],
            "seconds": seconds}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=2, help="runs at once (each on 1 thread)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    jobs = [(precision, seed) for seed in range(args.seeds) for precision in ("fp32", "bf16")]
    with ProcessPoolExecutor(args.jobs) as pool:
        futures = [pool.submit(one_run, p, s, args.steps, 1) for p, s in jobs]
        results = [f.result() for f in futures]
    for r in results:
        print(json.dumps(r), flush=True)
    by = {p: [r for r in results if r["precision"] == p] for p in ("fp32", "bf16")}
    lines = [
        f"| precision | final W1, mean ± std over {args.seeds} seeds | per seed (0..{args.seeds - 1}) "
        "| modes hit (of 8), per seed | seconds per run (mean) |",
        "|---|---|---|---|---|",
    ]
    for p, rows in by.items():
        w1 = [r["w1"] for r in rows]
        lines.append(
            f"| {p} | {statistics.mean(w1):.4f} ± {statistics.stdev(w1):.4f} | "
            f"{', '.join(f'{x:.4f}' for x in w1)} | {', '.join(str(int(r['modes_hit'])) for r in rows)} | "
            f"{statistics.mean(r['seconds'] for r in rows):.0f} |"
        )
    differences = [b["w1"] - f["w1"] for f, b in zip(by["fp32"], by["bf16"], strict=True)]
    lines.append("")
    lines.append(
        f"Paired difference bf16 - fp32 (same seed): mean {statistics.mean(differences):+.4f}, "
        f"std {statistics.stdev(differences):.4f}, per seed {', '.join(f'{d:+.4f}' for d in differences)}."
    )
    table = "\n".join(lines)
    print(table)
    if args.out:
        args.out.write_text(table + "\n")


if __name__ == "__main__":
    main()
