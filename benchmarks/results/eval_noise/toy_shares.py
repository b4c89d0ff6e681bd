"""The toy table of benchmarks/results/eval_noise.md: for toy-training's WGAN-GP runs (5 seeds per toy), the share
of the variance of W1's changes after the first quarter of evaluations that two draws' noise alone gives, with each
toy's noise measured on its seed-0 run (the rms sd of the CSVs here at steps >= 600), and the ceiling sqrt(1 - share) of
the late-change correlation. Run from the repository root: python benchmarks/results/eval_noise/toy_shares.py
"""

import csv
import importlib.util
import math

spec = importlib.util.spec_from_file_location("eval_noise", "benchmarks/eval_noise.py")
noise = importlib.util.module_from_spec(spec)
spec.loader.exec_module(noise)
curves = list(csv.DictReader(open("docs/studies/toy-training/curves.csv")))
for toy, short in (("eight_gaussians", "8g"), ("twenty_five_gaussians", "25g"), ("swiss_roll", "swiss")):
    rows = csv.DictReader(open(f"benchmarks/results/eval_noise/toys-{short}-wgan-gp-seed0.csv"))
    sds = [float(r["sd"]) for r in rows if r["checkpoint"] != "best" and int(r["step"]) >= 600]
    sd = math.sqrt(sum(x * x for x in sds) / len(sds))
    for seed in range(5):
        run = sorted(
            (r for r in curves if (r["toy"], r["objective"], r["seed"]) == (toy, "wgan-gp", str(seed))),
            key=lambda r: int(r["step"]),
        )
        _, share = noise.late_change_share([float(r["w1"]) for r in run], sd)
        print(f"{toy} seed {seed}: noise sd {sd:.4f}, share {share:.2f}, ceiling {math.sqrt(max(0, 1 - share)):.2f}")
