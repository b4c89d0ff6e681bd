"""Does FD (F-MNIST classifier) rank checkpoints like the standard TF-Inception FID? Spec: Spearman >= 0.9.

Stages, each resumable (a finished file is never computed twice), all on the CPU:

    python benchmarks/validate_fast_fid.py export --runs RUNS --out WORK/samples   # RUNS: wganlab run folders
    python benchmarks/validate_fast_fid.py features --kind fmnist --dir WORK
    python benchmarks/validate_fast_fid.py features --kind inception --dir WORK --limit 500  # ~1.5 h
        (two processes: add --shard 0 2 to one and --shard 1 2 to the other)
    python benchmarks/validate_fast_fid.py report --dir WORK --limit 500 --csv benchmarks/results/fast_fid.csv

`export` is the only stage that touches the training code: it rebuilds each checkpoint's generator and
writes n samples (uint8 .npy, one fixed noise seed for every checkpoint), the run's real test split processed
by its data config (same image_size and resize as training), and a random 10k of its train split (the
real-vs-real floor). Everything later reads only those .npy files and the feature caches made from them.
"""

import argparse
import csv
import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import torch

FEATURE_KINDS = ("fmnist", "inception")
REAL_SETS = ("real_test", "real_train10k")


def export(args: argparse.Namespace) -> None:
    """n uint8 samples per checkpoint plus the real sets, for every run folder under --runs."""
    from wganlab.config import load_config
    from wganlab.data.images import load_image_array
    from wganlab.models import build_networks

    args.out.mkdir(parents=True, exist_ok=True)
    manifest_path = args.out / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    for run_dir in sorted(path for path in args.runs.iterdir() if (path / "config.toml").exists()):
        config = load_config(run_dir / "config.toml")
        sample_shape = tuple(json.loads((run_dir / "run.json").read_text())["sample_shape"])
        size = sample_shape[-1]
        for split, name in (("test", f"real_test_{size}"), ("train", f"real_train10k_{size}")):
            if not (args.out / f"{name}.npy").exists():
                images = load_image_array(dataclasses.replace(config.data, split=split), progress=False)
                if split == "train":
                    rows = torch.randperm(len(images), generator=torch.Generator().manual_seed(args.seed))[:10_000]
                    images = images[np.sort(rows.numpy())]
                np.save(args.out / f"{name}.npy", np.ascontiguousarray(images))
        for checkpoint in sorted((run_dir / "checkpoints").glob("step-*.pt")):
            name = f"{run_dir.name}__{checkpoint.stem}"
            if (args.out / f"{name}.npy").exists():
                continue
            generator, _ = build_networks(config.model, sample_shape, torch.Generator(), is_image=True)
            generator.load_state_dict(torch.load(checkpoint, weights_only=True)["generator"])
            generator.eval()  # batch norm on its running statistics, as the project samples
            rng = torch.Generator().manual_seed(args.seed)
            chunks = []
            with torch.no_grad():
                for start in range(0, args.n, 500):
                    z = torch.randn(min(500, args.n - start), config.model.z_dim, generator=rng)
                    chunks.append(((generator(z).float() + 1) * 127.5).clamp(0, 255).round().to(torch.uint8))
            np.save(args.out / f"{name}.npy", torch.cat(chunks).numpy())
            manifest[name] = {
                "run": run_dir.name,
                "step": int(checkpoint.stem.split("-")[1]),
                "objective": config.objective.name,
                "config": config.name,
                "image_size": size,
                "real_test": f"real_test_{size}",
            }
            manifest_path.write_text(json.dumps(manifest, indent=1, sort_keys=True))
            print(f"exported {name}", flush=True)


def make_extractor(kind: str) -> torch.nn.Module:
    if kind == "fmnist":
        from wganlab.metrics.classifier import FashionClassifierFeatures

        return FashionClassifierFeatures()
    from wganlab.metrics.features import InceptionFeatures

    return InceptionFeatures()


def spread(count: int) -> list[int]:
    """0..count-1 as last, first, then midpoints of ever finer halvings: any prefix covers a run evenly."""
    order = [count - 1, 0][: max(count, 0)]
    intervals = [(0, count - 1)]
    while len(order) < count:
        finer = []
        for low, high in intervals:
            if high - low > 1:
                middle = (low + high) // 2
                order.append(middle)
                finer += [(low, middle), (middle, high)]
        intervals = finer
    return list(dict.fromkeys(order))


def extraction_order(files: list[Path]) -> list[Path]:
    """Real sets first, then the checkpoints round-robin over runs, each run's in `spread` order.

    Inception takes hours at one thread; in this order a stopped job has evaluated every run across its
    whole training, never one run's early steps only, so a partial table is a fair subsample.
    """
    real = sorted(path for path in files if path.name.startswith("real_"))
    runs: dict[str, list[Path]] = {}
    for path in sorted(path for path in files if not path.name.startswith("real_")):
        runs.setdefault(path.stem.split("__")[0], []).append(path)
    queues = [[checkpoints[i] for i in spread(len(checkpoints))] for checkpoints in runs.values()]
    return real + [queue[i] for i in range(max(map(len, queues), default=0)) for queue in queues if i < len(queue)]


def features(args: argparse.Namespace) -> None:
    """Features of every .npy (order: `extraction_order`), cached as <dir>/features/<kind>/<name>.pt."""
    samples, cache = args.dir / "samples", args.dir / "features" / args.kind
    cache.mkdir(parents=True, exist_ok=True)
    files = extraction_order(list(samples.glob("*.npy")))
    index, count = args.shard
    files = files[index::count]  # --shard 0 2 and --shard 1 2 split the work between two processes
    extractor = make_extractor(args.kind)
    for file in files:
        target = cache / f"{file.stem}.pt"
        if target.exists():
            continue
        images = torch.from_numpy(np.load(file))
        if args.limit and not file.name.startswith("real_test"):
            images = images[: args.limit]
        start = time.perf_counter()
        with torch.no_grad():
            result = torch.cat(
                [extractor(images[i : i + args.batch_size]) for i in range(0, len(images), args.batch_size)]
            )
        seconds = time.perf_counter() - start
        partial = target.with_suffix(".tmp")
        torch.save({"features": result, "seconds": seconds, "count": len(images)}, partial)
        partial.replace(target)  # a killed run never leaves a truncated cache entry behind
        print(f"{args.kind} {file.stem}: {len(images)} images, {seconds:.1f} s", flush=True)


def load_features(cache: Path, name: str) -> dict:
    return torch.load(cache / f"{name}.pt", weights_only=True)


def bootstrap_interval(a: np.ndarray, b: np.ndarray, resamples: int = 2000) -> tuple[float, float]:
    """95% percentile interval of Spearman's rho over checkpoints drawn with replacement (seeded)."""
    from scipy import stats

    rng = np.random.default_rng(0)
    values = []
    for _ in range(resamples):
        rows = rng.integers(0, len(a), len(a))
        if len(np.unique(rows)) > 2:
            values.append(stats.spearmanr(a[rows], b[rows]).statistic)
    low, high = np.percentile(values, [2.5, 97.5])
    return float(low), float(high)


def report(args: argparse.Namespace) -> None:
    """Per-checkpoint FD (F-MNIST classifier) and Inception FID, their correlations and the real floors."""
    from scipy import stats

    from wganlab.metrics.classifier import fd_fmnist
    from wganlab.metrics.fid import feature_statistics, frechet_distance

    manifest = json.loads((args.dir / "samples" / "manifest.json").read_text())
    caches = {kind: args.dir / "features" / kind for kind in FEATURE_KINDS}
    reference = {}
    for kind, cache in caches.items():
        for name in sorted(path.stem for path in cache.glob("real_test_*.pt")):
            reference[kind, name] = feature_statistics(load_features(cache, name)["features"])

    def distance(kind: str, name: str, real: str, limit: int | None = None) -> tuple[float, float]:
        entry = load_features(caches["fmnist" if kind == "fmnist_post_relu" else kind], name)
        fake = entry["features"][:limit]
        if kind == "fmnist":
            value = fd_fmnist(fake, load_features(caches[kind], real)["features"])
        elif kind == "fmnist_post_relu":
            # The rejected alternative layer: the same units after their ReLU (elementwise, so derived here).
            fake = fake.clamp(min=0)
            value = fd_fmnist(fake, load_features(caches["fmnist"], real)["features"].clamp(min=0))
        else:
            value = frechet_distance(*feature_statistics(fake), *reference[kind, real])
        return value, entry["seconds"] * len(fake) / entry["count"]

    rows = []
    for name, facts in sorted(manifest.items(), key=lambda item: (item[1]["run"], item[1]["step"])):
        if not (caches["inception"] / f"{name}.pt").exists():
            continue
        # The same fakes (the first --limit) for both measures, whatever each cache holds.
        fd_value, fd_seconds = distance("fmnist", name, facts["real_test"], args.limit or None)
        post_relu_value, _ = distance("fmnist_post_relu", name, facts["real_test"], args.limit or None)
        fid_value, fid_seconds = distance("inception", name, facts["real_test"], args.limit or None)
        rows.append(
            {
                "checkpoint": name,
                "run": facts["run"],
                "objective": facts["objective"],
                "step": facts["step"],
                "image_size": facts["image_size"],
                "n_fake": len(load_features(caches["inception"], name)["features"][: args.limit or None]),
                "fd_fmnist": round(fd_value, 4),
                "fid_inception": round(fid_value, 3),
                "fd_fmnist_post_relu": round(post_relu_value, 4),
                "fmnist_seconds": round(fd_seconds, 2),
                "inception_seconds": round(fid_seconds, 1),
            }
        )
    fd_values = np.array([row["fd_fmnist"] for row in rows])
    fid_values = np.array([row["fid_inception"] for row in rows])
    summary = {
        "n_checkpoints": len(rows),
        "spearman": stats.spearmanr(fd_values, fid_values).statistic,
        "pearson": stats.pearsonr(fd_values, fid_values).statistic,
        "pearson_log": stats.pearsonr(np.log(fd_values), np.log(fid_values)).statistic,
        "kendall": stats.kendalltau(fd_values, fid_values).statistic,
        "spearman_post_relu": stats.spearmanr([row["fd_fmnist_post_relu"] for row in rows], fid_values).statistic,
        "spearman_bootstrap_95": bootstrap_interval(fd_values, fid_values),
        "fid_range": (float(fid_values.min()), float(fid_values.max())) if len(rows) else None,
        "fd_range": (float(fd_values.min()), float(fd_values.max())) if len(rows) else None,
        "within_run_spearman": {
            run: stats.spearmanr(
                [row["fd_fmnist"] for row in rows if row["run"] == run],
                [row["fid_inception"] for row in rows if row["run"] == run],
            ).statistic
            for run in sorted({row["run"] for row in rows})
        },
    }
    floors = {}
    for real in sorted(name for _, name in reference if name.startswith("real_test")):
        train = real.replace("real_test", "real_train10k")
        for kind in (*FEATURE_KINDS, "fmnist_post_relu"):
            cache = caches["fmnist" if kind == "fmnist_post_relu" else kind]
            if (cache / f"{train}.pt").exists():
                count = len(load_features(cache, train)["features"])
                for limit in sorted({2000, count}):
                    if limit <= count:
                        floors[f"{kind} {train}[:{limit}] vs {real}"] = distance(kind, train, real, limit)[0]
    summary["real_floors"] = floors
    if args.csv:
        with args.csv.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    print(json.dumps(summary, indent=1, default=float))
    for row in rows:
        print(f"| {row['run']} | {row['step']} | {row['fd_fmnist']:.2f} | {row['fid_inception']:.1f} |")


def main() -> None:
    torch.set_num_threads(1)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    command = commands.add_parser("export", help="samples of every checkpoint and the real sets, as uint8 .npy")
    command.add_argument("--runs", type=Path, required=True, help="folder of wganlab run folders")
    command.add_argument("--out", type=Path, required=True)
    command.add_argument("--n", type=int, default=2000, help="samples per checkpoint")
    command.add_argument("--seed", type=int, default=0, help="noise seed, the same for every checkpoint")
    command.set_defaults(func=export)
    command = commands.add_parser("features", help="features of every exported file, cached")
    command.add_argument("--kind", choices=FEATURE_KINDS, required=True)
    command.add_argument("--dir", type=Path, required=True, help="the folder holding samples/")
    command.add_argument("--batch-size", type=int, default=50)
    command.add_argument("--limit", type=int, default=0, help="use only the first N fakes (0: all)")
    command.add_argument(
        "--shard", type=int, nargs=2, default=(0, 1), metavar=("INDEX", "COUNT"), help="every COUNT-th file from INDEX"
    )
    command.set_defaults(func=features)
    command = commands.add_parser("report", help="distances, correlations and floors from the caches")
    command.add_argument("--dir", type=Path, required=True)
    command.add_argument("--csv", type=Path, default=None)
    command.add_argument("--limit", type=int, default=0, help="compare on the first N fakes only (0: all)")
    command.set_defaults(func=report)
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
