"""Speed of our training step against the reference loops of shared/bench, side by side in one run.

    python benchmarks/bench_speed.py                       # all cases, 3 rounds, default threads
    python benchmarks/bench_speed.py --rounds 3 --threads 1 --cases toy-wgan-gp,toy-wgan,mnist-wgan-gp \
        --toy-iters 10 2 --mnist-iters 2 1                 # what benchmarks/results/speed.md reports
    python benchmarks/bench_speed.py --baseline ../old-checkout --variants "ref,ours fp32,baseline fp32"
    python benchmarks/bench_speed.py --threads 1 --cases cell-gan,cell-wgan,cell-wgan-gp --baseline ../old-checkout \
        --variants "baseline fp32,ours fp32,ours fp32+cl,ours bf16,ours bf16+cl"   # the image studies' default
                                                           # cell, before and after
                                                           # a change's before and after, in the same rounds
    python benchmarks/bench_speed.py --threads 1 --cases colour-gan,colour-wgan,colour-wgan-gp \
        --variants "baseline fp32,ours fp32,ours bf16+cl" --baseline ../old-checkout   # the colour study's 64 px cell
    python benchmarks/bench_speed.py --device cuda --reference .carry/bench --data .carry/fashion-mnist \
        --variants "ref,ours fp32,ours tf32,ours bf16" --no-flops   # on a GPU (what benchmarks/gpu_check.sh runs)

Each measurement is its own subprocess (fresh interpreter, its own peak RSS from os.wait4), and the variants
of a case run in turn (ref, ours fp32, ours bf16, ref, ...), so a machine shared with other jobs slows them
alike; ratios are taken round by round (ours / the reference of the same round), then the median.

Ours runs the real `wganlab.training.loop.train_step` on a `build_state` state, exactly as `train()` calls it
(no logging, sampling or checkpoints: the reference loops have none either). With `--baseline DIR`, the
"baseline" variants run DIR's own copy of this script's worker against DIR/src, so a change is measured
before and after in the same interleaved rounds.
With --device cuda both sides run on the GPU and each timed interval starts and ends with a device synchronise.
"ours fp32" keeps PyTorch's defaults, as the reference loops do (matmuls in fp32, cuDNN convolutions in TF32);
"ours tf32" allows TF32 matmuls too; "ours bf16" is train.precision=bf16; a "+cl" suffix ("ours bf16+cl") adds
train.channels_last=true; a "+mt" suffix ("ours fp32+mt") runs the subprocess with glibc's mmap threshold fixed at
32 MiB and its trim threshold at 1 GiB (MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_), so that large tensors are
not mapped and unmapped on every call whatever the process freed first (what `train()` does itself since
allocator.py, so "ours fp32" and "ours fp32+mt" now run alike; "+mt" matters for a baseline from before).
Below the table, each case's fastest variant against issue 33's target (TARGETS), and the ratio the step's FLOPs
would take at the bf16 matmul peak measured in the same run.
Achieved FLOP/s: torch.utils.flop_counter.FlopCounterMode over one generator iteration (matmuls and convs,
the penalty's double backward included), divided by the measured seconds per iteration, as a share of the
best 2048^2 matmul rate measured here in the same dtype.
"""

import argparse
import contextlib
import json
import math
import os
import runpy
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = [ROOT.parent / "shared" / "bench"]  # --reference: where ref_toy_wgangp.py and ref_mnist_wgangp.py are
FASHION_MNIST = ["/usr/share/datasets/fashion-mnist"]  # --data
DEVICE = ["cpu"]  # --device: where both the reference loops and ours run

# Ours with the reference's networks, batch, optimisers and step structure.
CASES = {
    "toy-wgan-gp": ("ref_toy_wgangp.py", ["--mode", "wgan-gp"], "configs/eight_gaussians/wgan-gp.toml", []),
    "toy-wgan": ("ref_toy_wgangp.py", ["--mode", "wgan"], "configs/eight_gaussians/wgan.toml", []),
    "mnist-wgan-gp": (
        "ref_mnist_wgangp.py",
        ["--mode", "wgan-gp"],
        None,
        ["objective.name=wgan-gp", "objective.penalty_weight=10", "optim.betas=0.5,0.9"],
    ),
    "mnist-wgan": ("ref_mnist_wgangp.py", ["--mode", "wgan"], None, ["objective.name=wgan"]),
    # The image studies' default cell (Fashion-MNIST 32 px, DCGAN generator with batch norm, DCGAN critic without
    # normalisation, 32 channels, z 128, batch 64, each objective's published recipe), exactly as the committed
    # runs were configured: no reference loop has these networks, so its ratios are to "baseline fp32" (the code
    # before the speed work, --baseline) or else to "ours fp32".
    **{
        f"cell-{objective}": (
            None,
            [],
            f"docs/studies/records/image-runs/dcgan-bn-none/{objective}/seed-0/config.toml",
            [],
        )  # fmt: skip
        for objective in ("gan", "wgan", "wgan-gp")
    },
}
# The colour study's 64 px cell (Twemoji, 4,009 RGB emoji on white, built into the user cache by `wganlab study
# colour` or `wganlab datasets get twemoji`): DCGAN generator with batch norm, 32 channels, z 128, batch 64; the GAN's
# discriminator with batch norm, the WGAN critics without normalisation.
for _objective in ("gan", "wgan", "wgan-gp"):
    CASES[f"colour-{_objective}"] = (None, [], f"configs/fashion_mnist/{_objective}.toml", [
        "data.source=folder", "data.split=train", "data.image_size=64", "data.channels=3", "data.pad=0",
        "model.architecture=dcgan", "model.z_dim=128", "model.channels=32", "model.generator_norm=batch",
        f"model.critic_norm={'batch' if _objective == 'gan' else 'none'}", "train.batch_size=64",
    ])  # fmt: skip
MNIST_MODEL = [
    "data.source=idx",
    "data.channels=1",
    "model.architecture=wgan_gp_mnist",
    "model.z_dim=128",
    "model.channels=64",
    "model.init_std=0",  # PyTorch's default init, as the reference
    "train.batch_size=50",
]
ITERS = {
    "toy": (40, 5),
    "mnist": (8, 2),
    "cell": (6, 2),
    "colour": (3, 1),
}  # (timed, warm-up) generator iterations per subprocess
THREADS: list[int] = []  # OMP_NUM_THREADS for every subprocess when set (--threads)
BASELINE: list[Path] = []  # a checkout of an earlier version whose own worker the "baseline" variants run


# Issue 33's targets: seconds per generator step of the fastest variant over the base variant of the same run (the
# study cells at 1 thread against the code before the speed work; the reference-loop cases at 2 threads against
# the reference loop).
TARGETS = {"cell-wgan-gp": 0.33, "cell-wgan": 0.40, "cell-gan": 0.50, "toy-wgan-gp": 0.35, "toy-wgan": 0.35,
           "mnist-wgan-gp": 0.35, "mnist-wgan": 0.35, "colour-wgan-gp": 0.33, "colour-wgan": 0.40,
           "colour-gan": 0.50}  # fmt: skip


def target_lines(rows: list[dict], peaks: dict[str, float]) -> list[str]:
    """Per case: the fastest variant's ratio against its target, by how much a missed one misses, and the ratio
    this step's FLOPs would take at the bf16 matmul peak measured in this run (what precision alone could give)."""
    lines = ["| case | fastest variant | ratio | target | result | ratio at the measured bf16 peak |",
             "|" + "---|" * 6]  # fmt: skip
    for case in dict.fromkeys(r["case"] for r in rows):
        group = [r for r in rows if r["case"] == case]
        base = next(r for r in group if r["variant"] == group[0]["ratio_to"])
        fastest = min((r for r in group if r is not base), key=lambda r: r["ratio_to_ref"], default=None)
        if fastest is None or case not in TARGETS:
            continue
        target, ratio = TARGETS[case], fastest["ratio_to_ref"]
        result = "met" if ratio <= target else f"missed by {ratio / target:.2f}x ({ratio:.2f}x against {target}x)"
        bound = base["gflop_per_iter"] * 1e9 / peaks.get("bf16", math.nan) / base["sec_per_gen_iter"]
        lines.append(f"| {case} | {fastest['variant']} | {ratio:.2f}x {base['variant']} | {target}x | {result} "
                     f"| {bound:.2f}x |")  # fmt: skip
    return lines


def our_config(case: str, precision: str, extra: list[str], device: str = "cpu", data: str = FASHION_MNIST[0]):
    from wganlab.config import load_config

    _, _, preset, overrides = CASES[case]
    overrides = [*overrides, *([*MNIST_MODEL, f"data.path={data}"] if case.startswith("mnist") else [])]
    if case.startswith("colour"):
        from wganlab.files import user_cache_dir

        overrides.append(f"data.path={user_cache_dir('datasets', 'twemoji') / 'images'}")
    common = [
        f"train.device={device}",
        f"train.precision={'fp32' if precision == 'tf32' else precision}",
        "log.progress=false",
        "log.tensorboard=false",
    ]
    return load_config(ROOT / preset if preset else None, [*overrides, *common, *extra])


def run_ours(
    case: str, precision: str, iters: int, warmup: int, extra: list[str], count_flops: bool, device: str, data: str
) -> dict:
    import torch

    from wganlab.training.distributed import DistContext
    from wganlab.training.flops import flop_counter
    from wganlab.training.loop import train_step
    from wganlab.training.state import build_state

    # "fp32" keeps PyTorch's defaults, as the reference loops run (on CUDA: fp32 matmuls, TF32 cuDNN convolutions);
    # "tf32" puts matmuls in TF32 too. Neither changes anything on a CPU.
    precision, *layout = precision.split("+")  # "bf16+cl": bf16 with train.channels_last
    extra = [*extra, *(["train.channels_last=true"] if "cl" in layout else [])]
    torch.backends.cuda.matmul.allow_tf32 = precision == "tf32"
    config = our_config(case, precision, extra, device, data)
    with contextlib.suppress(ImportError):  # as train() does; a checkout from before allocator.py has none
        from wganlab import allocator

        allocator.fix_thresholds()
    s = build_state(config, DistContext.local(device), progress=False)

    def synchronize() -> None:
        if s.device.type == "cuda":
            torch.cuda.synchronize(s.device)  # the timed interval ends when the GPU's queued work does

    def train(n: int) -> float:
        synchronize()
        start = time.perf_counter()
        for _ in range(n):  # the body of loop.train() without its interval checks
            train_step(s)
        synchronize()
        return time.perf_counter() - start

    train(warmup)
    result = {"sec_per_gen_iter": train(iters) / iters}
    if count_flops:
        with flop_counter() as counter:
            train(1)
        result["flops_per_gen_iter"] = counter.get_total_flops()
    s.stats.means()  # reads the device-side sums once, as a log interval would
    return result


def run_reference(case: str, count_flops: bool) -> dict:
    """One generator iteration of the reference script under FlopCounterMode."""
    from wganlab.training.flops import flop_counter

    script, args, _, _ = CASES[case]
    sys.argv = [script, *args, "--iters", "1", *reference_options(case)]
    with flop_counter() as counter:
        runpy.run_path(str(REFERENCE[0] / script), run_name="__main__")
    return {"flops_per_gen_iter": counter.get_total_flops()}


def reference_options(case: str) -> list[str]:
    """The reference loop's --device, and --data for the Fashion-MNIST one."""
    return ["--device", DEVICE[0], *(["--data", FASHION_MNIST[0]] if case.startswith("mnist") else [])]


def measured_peak(dtype_name: str, size: int = 2048, repeats: int = 10, budget_s: float = 5.0) -> float:
    """Best FLOP/s of a square matmul in this process on --device (this machine's threads, shared or not; a
    GPU's with 8192^2). tf32: fp32 operands with TF32 matmuls allowed. On a CPU the side starts at 256 and doubles
    up to `size` while one product takes under 0.1 s, and the repeats stop after `budget_s`: a CPU without native
    bf16 (AVX2 only) takes seconds for one bf16 2048^2 product, which at 10 repeats was minutes."""
    import torch

    device = torch.device(DEVICE[0])
    dtype = {"fp32": torch.float32, "tf32": torch.float32, "bf16": torch.bfloat16}[dtype_name]
    torch.backends.cuda.matmul.allow_tf32 = dtype_name == "tf32"

    def timed(side: int) -> float:
        a, b = (torch.randn(side, side, dtype=dtype, device=device) for _ in range(2))
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        a @ b
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return time.perf_counter() - start

    if device.type == "cuda":
        side = 8192
    else:
        side = min(256, size)
        while side < size and timed(side) < 0.1:
            side *= 2
    best, spent = float("inf"), time.perf_counter()
    for _ in range(repeats):
        best = min(best, timed(side))
        if time.perf_counter() - spent > budget_s:
            break
    torch.backends.cuda.matmul.allow_tf32 = False
    return 2 * side**3 / best


# glibc's allocator thresholds a "+mt" variant fixes through its environment (see the module docstring).
MALLOC_FIXED = {"MALLOC_MMAP_THRESHOLD_": str(32 << 20), "MALLOC_TRIM_THRESHOLD_": str(1 << 30)}


def launch(command: list[str], root: Path = ROOT, env_extra: dict[str, str] | None = None) -> tuple[str, float]:
    """Run a subprocess in `root` with `root`/src first on the path; (stdout, its peak RSS in MiB from the
    kernel's rusage of that one child)."""
    env = {**os.environ, **({"OMP_NUM_THREADS": str(THREADS[0])} if THREADS else {}), **(env_extra or {})}
    env["PYTHONPATH"] = os.pathsep.join([str(root / "src"), *filter(None, [env.get("PYTHONPATH")])])
    process = subprocess.Popen(command, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = process.stdout.read(), process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise RuntimeError(f"{' '.join(command)} failed ({process.returncode}):\n{err[-2000:]}")
    return out, usage.ru_maxrss / 1024  # ru_maxrss is in KiB on Linux (= VmHWM at exit)


def measure(case: str, variant: str, extra: list[str]) -> dict:
    kind = case.split("-")[0]
    iters, warmup = ITERS[kind]
    if variant == "ref":
        script, args, _, _ = CASES[case]
        command = [
            sys.executable,
            str(REFERENCE[0] / script),
            *args,
            "--iters",
            str(iters),
            "--warmup",
            str(warmup),
            *reference_options(case),
        ]
        out, peak = launch(command)
        seconds = float(out.strip().splitlines()[-1].split("=")[1])
        return {"sec_per_gen_iter": seconds, "peak_rss_mib": peak}
    precision = variant.split()[-1]
    root, script = worker(case, variant)
    command = [sys.executable, str(script), "--worker", case, precision, str(iters), str(warmup), *worker_options()]
    command += extra
    out, peak = launch(command, root, MALLOC_FIXED if "mt" in precision.split("+") else None)
    return {**json.loads(out.strip().splitlines()[-1]), "peak_rss_mib": peak}


def count_flops(case: str, variant: str, extra: list[str]) -> float:
    if variant == "ref":
        command = [sys.executable, __file__, "--flops-ref", case]
    else:
        root, script = worker(case, variant)
        command = [sys.executable, str(script), "--worker", case, variant.split()[-1], "1", "1", "--flops"]
        command += [*worker_options(), *extra]
        out, _ = launch(command, root)
        return json.loads(out.strip().splitlines()[-1])["flops_per_gen_iter"]
    out, _ = launch(command)
    return json.loads(out.strip().splitlines()[-1])["flops_per_gen_iter"]


def worker(case: str, variant: str) -> tuple[Path, Path]:
    """(the checkout whose src/ the worker imports, the script that runs it). A baseline runs its own copy of this
    script, except for the study cells, which an older copy may not know: those run this worker on its src/ (the
    worker uses only load_config, build_state and train_step, which every version has)."""
    root = BASELINE[0] if variant.startswith("baseline") else ROOT
    return root, (ROOT if case.startswith(("cell", "colour")) else root) / "benchmarks" / "bench_speed.py"


def worker_options() -> list[str]:
    return [f"--device={DEVICE[0]}", f"--data={FASHION_MNIST[0]}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--variants", default="ref,ours fp32,ours bf16")
    parser.add_argument("--toy-iters", type=int, nargs=2, default=ITERS["toy"], metavar=("TIMED", "WARMUP"))
    parser.add_argument("--mnist-iters", type=int, nargs=2, default=ITERS["mnist"], metavar=("TIMED", "WARMUP"))
    parser.add_argument("--cell-iters", type=int, nargs=2, default=ITERS["cell"], metavar=("TIMED", "WARMUP"))
    parser.add_argument("--colour-iters", type=int, nargs=2, default=ITERS["colour"], metavar=("TIMED", "WARMUP"))
    parser.add_argument("--threads", type=int, default=0, help="OMP_NUM_THREADS for every run (0: default)")
    parser.add_argument("--markdown", type=Path, help="append the table to this file")
    parser.add_argument("--baseline", type=Path, help="a checkout of an earlier version, for 'baseline' variants")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N: where every variant runs")
    parser.add_argument("--reference", type=Path, default=REFERENCE[0], help="folder of the reference loops")
    parser.add_argument("--data", default=FASHION_MNIST[0], help="Fashion-MNIST IDX folder (mnist cases)")
    parser.add_argument("--no-flops", action="store_true", help="skip the FLOP counts (one subprocess per variant)")
    args = parser.parse_args()
    DEVICE[0], REFERENCE[0], FASHION_MNIST[0] = args.device, args.reference.resolve(), args.data
    if args.baseline:
        BASELINE.append(args.baseline.resolve())
    ITERS.update(toy=tuple(args.toy_iters), mnist=tuple(args.mnist_iters), cell=tuple(args.cell_iters),
                 colour=tuple(args.colour_iters))  # fmt: skip
    if args.threads:
        # On an oversubscribed machine OpenMP's spinning threads collapse (measured: 2 threads, load 10, the
        # toy reference at 12 s per iteration instead of 0.08); one thread each keeps the comparison sane.
        THREADS.append(args.threads)
        import torch

        torch.set_num_threads(args.threads)
    cases = args.cases.split(",")
    all_variants = args.variants.split(",")

    import torch

    dtypes = ("fp32", "tf32", "bf16") if any(v.endswith("tf32") for v in all_variants) else ("fp32", "bf16")
    peaks = {name: measured_peak(name) for name in dtypes}
    where = torch.cuda.get_device_name(args.device) if args.device.startswith("cuda") else f"{os.cpu_count()} CPUs"
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, {where}; peak matmul "
        + ", ".join(f"{name} {peak / 1e9:.0f} GFLOP/s" for name, peak in peaks.items())
    )
    rows = []
    for case in cases:
        variants = [v for v in all_variants if v != "ref" or CASES[case][0]]  # the cells have no reference loop
        base = next(v for v in ("ref", "baseline fp32", "ours fp32", variants[0]) if v in variants)
        flops = {variant: math.nan if args.no_flops else count_flops(case, variant, []) for variant in variants}
        times: dict[str, list[float]] = {v: [] for v in variants}
        memory: dict[str, list[float]] = {v: [] for v in variants}
        for round_index in range(args.rounds):
            order = variants if round_index % 2 == 0 else variants[::-1]  # ABC CBA ABC ...
            for variant in order:
                result = measure(case, variant, [])
                times[variant].append(result["sec_per_gen_iter"])
                memory[variant].append(result["peak_rss_mib"])
                print(f"{case} round {round_index} {variant}: {result['sec_per_gen_iter']:.4f} s/iter "
                      f"{result['peak_rss_mib']:.0f} MiB", flush=True)  # fmt: skip
        for variant in variants:
            ratios = [t / r for t, r in zip(times[variant], times[base], strict=True)]
            seconds = statistics.median(times[variant])
            token = variant.split()[-1].split("+")[0]  # "ours bf16+cl" -> bf16
            dtype = token if token in peaks else "fp32"
            rows.append(
                {
                    "case": case,
                    "variant": variant,
                    "sec_per_gen_iter": seconds,
                    "all_seconds": times[variant],
                    "ratio_to_ref": statistics.median(ratios),
                    "ratio_to": base,
                    "all_ratios": ratios,
                    "peak_rss_mib": max(memory[variant]),
                    "gflop_per_iter": flops[variant] / 1e9,
                    "achieved_gflops": flops[variant] / seconds / 1e9,
                    "share_of_peak": flops[variant] / seconds / peaks[dtype],
                    "peak_dtype": dtype,
                }
            )
    header = (
        "| case | variant | s / gen iter (median) | ratio (median of rounds) | ratios per round "
        "| peak RSS MiB | GFLOP / iter | GFLOP/s | share of peak |"
    )
    lines = [header, "|" + "---|" * 9]
    for r in rows:
        lines.append(
            f"| {r['case']} | {r['variant']} | {r['sec_per_gen_iter']:.4f} "
            f"| {r['ratio_to_ref']:.2f}x {r['ratio_to']} | "
            f"{', '.join(f'{x:.2f}' for x in r['all_ratios'])} | {r['peak_rss_mib']:.0f} | "
            f"{r['gflop_per_iter']:.2f} | {r['achieved_gflops']:.0f} | "
            f"{100 * r['share_of_peak']:.0f}% of {r['peak_dtype']} |"
        )
    lines += ["", *target_lines(rows, peaks)]
    table = "\n".join(lines)
    print(table)
    print(json.dumps({"peaks_gflops": {k: v / 1e9 for k, v in peaks.items()}, "iters": ITERS, "rows": rows}))
    if args.markdown:
        with args.markdown.open("a") as handle:
            handle.write(table + "\n")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        case, precision, iters, warmup, *rest = sys.argv[2:]
        flops = "--flops" in rest
        options = dict(item[2:].split("=", 1) for item in rest if item.startswith(("--device=", "--data=")))
        extra = [item for item in rest if item != "--flops" and not item.startswith(("--device=", "--data="))]
        device, data = options.get("device", "cpu"), options.get("data", FASHION_MNIST[0])
        print(json.dumps(run_ours(case, precision, int(iters), int(warmup), extra, flops, device, data)))
    elif len(sys.argv) > 1 and sys.argv[1] == "--flops-ref":
        print(json.dumps(run_reference(sys.argv[2], True)))
    else:
        main()
