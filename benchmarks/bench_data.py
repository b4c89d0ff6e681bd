"""Speed and memory of the image data layer; prints measured numbers only.

1. Decoding a folder of 5,000 generated 500 x 500 JPEGs to 64 px: images/s cold (decode + cache write)
   and cached (manifest check + memory-map + reading every byte).
2. `next_batch(64)` on Fashion-MNIST (28 -> 32 px, as configs/fashion_mnist/*.toml) against one WGAN-GP
   step of the DCGAN networks (n_critic = 5 critic updates with the gradient penalty, then one generator
   update), which draws 5 batches: the ratio is 5 x next_batch / step (target < 5%).
3. Peak RSS (VmHWM) while streaming a memory-mapped array larger than a simulated RAM cap, in a fresh
   process, for ImageBatches' positioned reads and, for contrast, plain memmap fancy indexing.

Run: python benchmarks/bench_data.py [--images 5000] [--stream-mib 1024] [--cap-mib 256]
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from wganlab.config import DataConfig, ModelConfig
from wganlab.data.images import ImageBatches, load_image_array
from wganlab.data.sources.folder import load_folder
from wganlab.models import build_networks

FASHION = Path("/usr/share/datasets/fashion-mnist")


def vm_hwm_mib() -> float:
    """Peak resident set size of this process so far (Linux /proc/self/status VmHWM)."""
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def make_jpegs(root: Path, count: int) -> None:
    """`count` distinct 500 x 500 JPEGs: smooth colour fields plus noise, like photos for the decoder."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:500, 0:500].astype(np.float32) / 500
    bases = []
    for _ in range(50):
        a, b, c = rng.uniform(0, 6, 3)
        field = np.stack([np.sin(a * x + b * y), np.cos(b * x * y * c), np.sin(c * x - a * y)], axis=-1)
        bases.append(((field + 1) * 100 + rng.normal(0, 12, (500, 500, 3))).clip(0, 255).astype(np.uint8))
    for index in range(count):
        image = np.roll(bases[index % 50], shift=index * 7, axis=1)
        Image.fromarray(image).save(root / f"{index:05d}.jpg", quality=90)


def bench_decode(count: int) -> None:
    with tempfile.TemporaryDirectory() as temp:
        root = Path(temp)
        started = time.perf_counter()
        make_jpegs(root, count)
        print(f"generated {count} 500x500 JPEGs in {time.perf_counter() - started:.1f} s")
        config = DataConfig(source="folder", path=temp, image_size=64, channels=3)
        started = time.perf_counter()
        images = load_folder(config, progress=False)
        cold = time.perf_counter() - started
        started = time.perf_counter()
        cached = load_folder(config, progress=False)
        total = int(np.asarray(cached, dtype=np.uint64).sum())  # read every byte of the cache
        warm = time.perf_counter() - started
        assert total > 0 and cached.shape == images.shape
        print(f"folder -> {images.shape} uint8, {os.cpu_count()} decode threads")
        print(f"  cold (decode + cache write): {cold:.2f} s = {count / cold:,.0f} images/s")
        print(f"  cached (check + mmap + read all): {warm:.3f} s = {count / warm:,.0f} images/s")


def critic_penalty(critic: torch.nn.Module, real: torch.Tensor, fake: torch.Tensor, rng: torch.Generator):
    """WGAN-GP: lambda E[(||grad f(x_hat)||_2 - 1)^2], x_hat on lines between real and fake, lambda = 10."""
    alpha = torch.rand(len(real), 1, 1, 1, generator=rng, device=real.device)
    mixed = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(mixed).sum(), mixed, create_graph=True)
    return 10 * ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()


def bench_batches_vs_step(repeats: int) -> None:
    if not (FASHION / "train-images-idx3-ubyte.gz").is_file():
        print("Fashion-MNIST missing: skipped next_batch vs step")
        return
    device = torch.device("cpu")
    started = time.perf_counter()
    images = load_image_array(DataConfig(source="idx", image_size=32, channels=1))
    print(f"Fashion-MNIST train 28 -> 32 px load + resize: {time.perf_counter() - started:.2f} s, {images.shape}")
    for flip in (False, True):
        batches = ImageBatches(images, device=device, rng=torch.Generator().manual_seed(0), flip=flip)
        for _ in range(20):
            batches.next_batch(64)
        # Median of rounds: this shared 2-core VM's timings jump by 10x between rounds.
        rounds = []
        for _ in range(15):
            started = time.perf_counter()
            for _ in range(200):
                batches.next_batch(64)
            rounds.append((time.perf_counter() - started) / 200)
        per_batch = float(np.median(rounds))
        print(f"next_batch(64), flip={flip}, median of 15 x 200 calls: {per_batch * 1e6:.0f} us")
    batches = ImageBatches(images, device=device, rng=torch.Generator().manual_seed(0))

    rng = torch.Generator().manual_seed(0)
    model = ModelConfig(architecture="dcgan", z_dim=100, channels=64, critic_norm="layer")
    generator, critic = build_networks(model, (1, 32, 32), rng, is_image=True)
    generator_opt = torch.optim.Adam(generator.parameters(), lr=1e-4, betas=(0.0, 0.9))
    critic_opt = torch.optim.Adam(critic.parameters(), lr=1e-4, betas=(0.0, 0.9))

    def step() -> None:
        critic.requires_grad_(True)
        for _ in range(5):
            real = batches.next_batch(64)
            with torch.no_grad():
                fake = generator(torch.randn(64, 100, generator=rng))
            loss = critic(fake).mean() - critic(real).mean() + critic_penalty(critic, real, fake, rng)
            critic_opt.zero_grad(set_to_none=True)
            loss.backward()
            critic_opt.step()
        critic.requires_grad_(False)
        loss = -critic(generator(torch.randn(64, 100, generator=rng))).mean()
        generator_opt.zero_grad(set_to_none=True)
        loss.backward()
        generator_opt.step()

    step()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        step()
        times.append(time.perf_counter() - started)
    per_step = float(np.median(times))
    print(
        f"WGAN-GP step (DCGAN 64 ch, 32 px, m 64, n_critic 5), CPU {torch.get_num_threads()} threads, "
        f"median of {repeats}: "
        f"{per_step * 1e3:.0f} ms"
    )
    print(f"  data share: 5 x next_batch / step = {5 * per_batch / per_step * 100:.3f} %")


def stream_child(path: str, mode: str, batches_to_draw: int) -> None:
    """Runs in a fresh process so that VmHWM counts the streaming alone."""
    mapped = np.load(path, mmap_mode="r")
    before = vm_hwm_mib()
    started = time.perf_counter()
    if mode == "imagebatches":
        batches = ImageBatches(mapped, device=torch.device("cpu"), rng=torch.Generator().manual_seed(0), stream=True)
        for _ in range(batches_to_draw):
            batches.next_batch(64)
    else:
        rng = np.random.default_rng(0)
        for _ in range(batches_to_draw):
            torch.from_numpy(mapped[np.sort(rng.choice(len(mapped), 64, replace=False))]).float()
    seconds = time.perf_counter() - started
    read_mib = batches_to_draw * 64 * mapped[0].nbytes / 2**20
    print(
        f"  {mode}: {batches_to_draw} batches of 64 read {read_mib:.0f} MiB"
        f" in {seconds:.2f} s ({seconds / batches_to_draw * 1e3:.2f} ms/batch); VmHWM {before:.0f} MiB after"
        f" imports -> {vm_hwm_mib():.0f} MiB"
    )


def bench_stream(size_mib: int, cap_mib: int, batches_to_draw: int) -> None:
    with tempfile.TemporaryDirectory() as temp:
        path = Path(temp) / "big.npy"
        count = size_mib * 2**20 // (3 * 64 * 64)
        out = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint8, shape=(count, 3, 64, 64))
        rng = np.random.default_rng(0)
        for start in range(0, count, 4096):
            out[start : start + 4096] = rng.integers(0, 256, out[start : start + 4096].shape, dtype=np.uint8)
        out.flush()
        del out
        print(
            f"memmap {count} x 3 x 64 x 64 = {path.stat().st_size / 2**20:.0f} MiB on disk; "
            f"simulated cap {cap_mib} MiB"
            " -> ImageBatches(stream=True)"
        )
        for mode in ("imagebatches", "memmap-indexing"):
            subprocess.run(
                [sys.executable, __file__, "--stream-child", str(path), mode, str(batches_to_draw)],
                check=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--stream-mib", type=int, default=1024)
    parser.add_argument("--cap-mib", type=int, default=256)
    parser.add_argument("--stream-batches", type=int, default=2000)
    parser.add_argument("--stream-child", nargs=3, metavar=("PATH", "MODE", "BATCHES"))
    args = parser.parse_args()
    if args.stream_child:
        path, mode, batches = args.stream_child
        stream_child(path, mode, int(batches))
        return
    print(f"torch {torch.__version__}, {os.cpu_count()} CPUs")
    bench_decode(args.images)
    bench_batches_vs_step(args.steps)
    bench_stream(args.stream_mib, args.cap_mib, args.stream_batches)


if __name__ == "__main__":
    main()
