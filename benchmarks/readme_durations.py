"""Time every example in the README, in the README's order, in a scratch folder; print one line per example and
write a JSON of the seconds (and the load average while each ran), from which the README's durations come.

    OMP_NUM_THREADS=1 python benchmarks/readme_durations.py --out /tmp/readme-times --json durations.json

Each command runs as a user would type it (the `wganlab` on PATH), one after another, with one thread per process
(`--jobs 2` studies give each job one). `prepare` runs on synthetic pairs at Carvana's size (1918 x 1280 JPEG
plus a GIF mask), since Carvana itself needs a Kaggle account.
"""

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

EXAMPLES = [
    ("help", "wganlab --help"),
    ("presets", "wganlab presets"),
    ("dry", "wganlab train eight_gaussians/wgan --dry-run"),
    ("train-gp", "wganlab train eight_gaussians/wgan-gp --train.steps=1000 --out runs/gp"),
    ("train-fm", "wganlab train fashion_mnist/wgan-gp --train.steps=200 --out runs/fm"),
    ("resume-fm", "wganlab train fashion_mnist/wgan-gp --out runs/fm --resume --train.steps=400"),
    ("sample-gp", "wganlab sample runs/gp --n 1000 --out gp.png"),
    ("sample-gp-best", "wganlab sample runs/gp --n 1000 --checkpoint best --out best.png"),
    ("sample-fm-dir", "wganlab sample runs/fm --n 1000 --out fm-samples/"),
    ("eval-gp", "wganlab eval runs/gp"),
    ("eval-fm", "wganlab eval runs/fm --metrics fid,kid --n 1000"),
    ("eval-fm-again", "wganlab eval runs/fm --metrics fid,kid --n 1000 --seed 1"),
    ("study-distances", "wganlab study distances --quick"),
    ("prepare", "wganlab prepare carvana --out carvana64 --size 64"),
    ("ddp", "torchrun --nproc_per_node=2 -m wganlab train eight_gaussians/wgan-gp --train.steps=200 --out runs/ddp"),
    ("demo", "wganlab demo"),
    ("study-all", "wganlab study all --quick --jobs 2"),
]
PREPARE_PAIRS = 60


def synthetic_carvana(root: Path, pairs: int) -> None:
    """`pairs` photos (1918 x 1280 JPEG, noise) with GIF masks (an ellipse), in Carvana's two-folder layout."""
    (root / "train").mkdir(parents=True, exist_ok=True)
    (root / "train_masks").mkdir(exist_ok=True)
    rng = np.random.default_rng(0)
    rows, columns = np.ogrid[:1280, :1918]
    inside = ((rows - 640) / 400.0) ** 2 + ((columns - 959) / 700.0) ** 2 <= 1
    for index in range(pairs):
        photo = rng.integers(0, 256, (1280, 1918, 3), dtype=np.uint8)
        Image.fromarray(photo).save(root / "train" / f"car{index:03d}_01.jpg", quality=90)
        Image.fromarray(inside.astype(np.uint8) * 255).convert("P").save(
            root / "train_masks" / f"car{index:03d}_01_mask.gif"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="scratch folder (created; must not exist)")
    parser.add_argument("--json", type=Path, required=True)
    parser.add_argument("--only", default="", help="comma-separated example names (default: all)")
    args = parser.parse_args()
    args.out.mkdir(parents=True)
    synthetic_carvana(args.out / "carvana", PREPARE_PAIRS)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "WGANLAB_CACHE": str(args.out / "cache")}
    chosen = set(filter(None, args.only.split(",")))
    results = {}
    for name, command in EXAMPLES:
        if chosen and name not in chosen:
            continue
        started, load_before = time.perf_counter(), os.getloadavg()[0]
        done = subprocess.run(shlex.split(command), cwd=args.out, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - started
        results[name] = {
            "command": command,
            "seconds": round(seconds, 2),
            "exit": done.returncode,
            "load_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        }
        print(f"{name:16s} {seconds:8.1f} s  exit {done.returncode}  load {load_before:.1f}  {command}", flush=True)
        if done.returncode:
            print(done.stderr[-2000:], file=sys.stderr)
        args.json.write_text(json.dumps(results, indent=1) + "\n")
    if "prepare" in results:
        per_pair = results["prepare"]["seconds"] / PREPARE_PAIRS
        results["prepare"]["per_pair_seconds"] = round(per_pair, 3)
        results["prepare"]["carvana_5088_pairs_minutes"] = round(per_pair * 5088 / 60, 1)
    args.json.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
