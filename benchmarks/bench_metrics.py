"""Image-metric benchmarks: Inception throughput, peak memory of KID+PR at n=50k, Fashion-MNIST FID/KID.

    python benchmarks/bench_metrics.py throughput [--dtype bfloat16]
    python benchmarks/bench_metrics.py memory --n 50000          # random 2048-d features, no Inception
    python benchmarks/bench_metrics.py fmnist-features --n 10000 --out /tmp/wganlab-fmnist-features
    python benchmarks/bench_metrics.py fmnist-scores --out /tmp/wganlab-fmnist-features
    python benchmarks/bench_metrics.py fid-bias --out /tmp/wganlab-fmnist-features   # FID's bias at small n

`fmnist-features` is the slow stage (Inception at 299 px on the CPU); it saves the train[:n] and test[:n]
features so the scores can be recomputed without it.
"""

import argparse
import resource
import time
from pathlib import Path

import torch

from wganlab.data.sources.idx import load_idx
from wganlab.metrics.features import InceptionFeatures, extract_features

CHUNK = 500


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def throughput(args: argparse.Namespace) -> None:
    images = torch.from_numpy(load_idx("", "test")[: args.n].copy())
    extractor = InceptionFeatures(dtype=getattr(torch, args.dtype))
    extractor(images[:8])  # warm-up
    start = time.perf_counter()
    extract_features(images, extractor, args.batch_size, "cpu", progress=False)
    seconds = time.perf_counter() - start
    print(
        f"throughput: {args.n} Fashion-MNIST images (28 px -> 299), batch {args.batch_size}, {args.dtype}, "
        f"{torch.get_num_threads()} threads: {seconds:.1f} s, {args.n / seconds:.1f} images/s"
    )


def memory(args: argparse.Namespace) -> None:
    from wganlab.metrics.kid import kid_from_features
    from wganlab.metrics.precision_recall import precision_recall

    rng = torch.Generator().manual_seed(0)
    before = peak_rss_mib()
    real = torch.randn(args.n, 2048, generator=rng)
    fake = torch.randn(args.n, 2048, generator=rng).add_(0.1)  # in place: no second 400 MB copy
    after_features = peak_rss_mib()
    start = time.perf_counter()
    kid_mean, kid_std = kid_from_features(fake, real, rng=rng)
    kid_seconds = time.perf_counter() - start
    after_kid = peak_rss_mib()
    start = time.perf_counter()
    precision, recall = precision_recall(real, fake)
    pr_seconds = time.perf_counter() - start
    print(f"memory: n={args.n}, two float32 feature sets = {2 * real.numel() * 4 / 2**20:.0f} MiB")
    print(
        f"  peak RSS: start {before:.0f} MiB, features {after_features:.0f}, after KID {after_kid:.0f}, "
        f"after PR {peak_rss_mib():.0f} MiB"
    )
    print(
        f"  KID {kid_mean:.6f} ± {kid_std:.6f} in {kid_seconds:.1f} s; "
        f"PR ({precision:.4f}, {recall:.4f}) in {pr_seconds:.1f} s"
    )


def fmnist_features(args: argparse.Namespace) -> None:
    """Chunks of 500 images, test and train in turn, each saved at once: stop any time, rerun to resume."""
    args.out.mkdir(parents=True, exist_ok=True)
    extractor = InceptionFeatures(dtype=getattr(torch, args.dtype))
    splits = {split: torch.from_numpy(load_idx("", split)[: args.n].copy()) for split in ("test", "train")}
    for start in range(0, args.n, CHUNK):
        for split, images in splits.items():
            file = args.out / f"{split}-{args.dtype}-{start:05d}.pt"
            if file.exists():
                continue
            begin = time.perf_counter()
            features = extract_features(images[start : start + CHUNK], extractor, args.batch_size, "cpu", False)
            seconds = time.perf_counter() - begin
            torch.save(features, file)
            print(
                f"{split}[{start}:{start + CHUNK}] {args.dtype}: {seconds:.0f} s, {CHUNK / seconds:.1f} images/s",
                flush=True,
            )


def load_chunks(out: Path, split: str, dtype: str) -> torch.Tensor:
    return torch.cat([torch.load(file) for file in sorted(out.glob(f"{split}-{dtype}-*.pt"))])


def fmnist_scores(args: argparse.Namespace) -> None:
    from wganlab.metrics.fid import fid_from_features
    from wganlab.metrics.kid import kid_from_features
    from wganlab.metrics.precision_recall import precision_recall

    train, test = load_chunks(args.out, "train", args.dtype), load_chunks(args.out, "test", args.dtype)
    count = min(len(train), len(test))
    train, test = train[:count], test[:count]
    half = len(train) // 2
    rng = torch.Generator().manual_seed(0)

    def timed(name: str, compute) -> None:
        start = time.perf_counter()
        value = compute()
        text = f"{value:.4f}" if isinstance(value, float) else ", ".join(f"{v:.6f}" for v in value)
        print(f"{name}: {text}  ({time.perf_counter() - start:.1f} s)", flush=True)

    timed(f"FID train[:{len(train)}] vs test[:{len(test)}]", lambda: fid_from_features(train, test))
    timed(f"FID train[:{len(train)}] vs itself", lambda: fid_from_features(train, train))
    timed(f"FID train[:{half}] vs train[{half}:{len(train)}]", lambda: fid_from_features(train[:half], train[half:]))
    timed("KID train vs test (100 subsets of 1000; mean, std)", lambda: kid_from_features(train, test, rng=rng))
    timed("KID train vs itself (mean, std)", lambda: kid_from_features(train, train, rng=rng))
    timed("PR train vs test (k=3; precision, recall)", lambda: precision_recall(train, test))


def fid_bias(args: argparse.Namespace) -> None:
    """FID of two disjoint real samples, where the true FID is about 0: what FID says at n from its bias alone.

    From the features `fmnist-features` saved (train[:m] and test[:m], m = whatever chunks exist), for n = m, m/2,
    m/4, ...: every disjoint pair (train[i*n:(i+1)*n], test[i*n:(i+1)*n]), and each train block against all m test
    images (a fixed reference, as `wganlab metrics SAMPLES REFERENCE` has one).
    """
    import statistics

    from wganlab.metrics.fid import fid_from_features

    train, test = load_chunks(args.out, "train", args.dtype), load_chunks(args.out, "test", args.dtype)
    count = min(len(train), len(test))
    train, test = train[:count], test[:count]
    sizes, size = [], count
    while size >= 250:
        sizes.append(size)
        size //= 2
    print(f"{count} train and {count} test images' features ({args.dtype}) from {args.out}", flush=True)
    print("| n | pairs | FID train[n] vs test[n] (mean ± std) | FID train[n] vs all test | n x FID |")
    print("|---|---|---|---|---|")
    for n in sorted(sizes):
        begin = time.perf_counter()
        blocks = range(count // n)
        pairs = [fid_from_features(train[i * n : (i + 1) * n], test[i * n : (i + 1) * n]) for i in blocks]
        fixed = [fid_from_features(train[i * n : (i + 1) * n], test) for i in blocks]
        spread = lambda values: f" ± {statistics.pstdev(values):.2f}" if len(values) > 1 else ""  # noqa: E731
        mean_pair, mean_fixed = statistics.fmean(pairs), statistics.fmean(fixed)
        print(
            f"| {n:,} | {len(pairs)} | {mean_pair:.2f}{spread(pairs)} | {mean_fixed:.2f}{spread(fixed)} | "
            f"{n * mean_pair:,.0f} |  ({time.perf_counter() - begin:.0f} s)",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stage", choices=["throughput", "memory", "fmnist-features", "fmnist-scores", "fid-bias"])
    parser.add_argument("--n", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("/tmp/wganlab-fmnist-features"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    defaults = {"throughput": 128, "memory": 50_000, "fmnist-features": 10_000, "fmnist-scores": 10_000, "fid-bias": 0}
    args.n = args.n or defaults[args.stage]
    {
        "throughput": throughput,
        "memory": memory,
        "fmnist-features": fmnist_features,
        "fmnist-scores": fmnist_scores,
        "fid-bias": fid_bias,
    }[args.stage](args)


if __name__ == "__main__":
    main()
