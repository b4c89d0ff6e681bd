"""Pack a GPU run's samples small enough to come back, and score them: FD (our Fashion-MNIST classifier) on the GPU
machine, TF-Inception FID here, both through wganlab's own metric code (`ImageQuality.measure`, as `wganlab eval`).

    python benchmarks/score_gpu_samples.py pack RUN/samples.npy RUN/config.toml OUT/samples.npz
    python benchmarks/score_gpu_samples.py score OUT/samples.npz --metrics fd_fmnist     # on the GPU machine
    python benchmarks/score_gpu_samples.py score FILES_AT/samples.npz            # here: FID and FD

`pack` rounds the samples to 8 bits exactly as the Inception input does (`features.to_inception_input`:
((x + 1) * 127.5).clamp(0, 255).round()), so the FID of the packed images is the FID of the samples; 10,000 32 px
gray images are 10 MB (the float32 .npy is 41 MB, over what one file may bring back). The run's config.toml travels
inside the .npz: it names the data the reference statistics come from (the test split, prepared as in training).
FD is taken from the same 8-bit images (in training it sees the float samples; the difference is the rounding).

`score` replays the images through a stand-in generator that ignores z, so the real images, the reference key and
the cached Inception statistics are exactly those of `wganlab eval RUN --metrics fid`. FID needs the Inception file
(`wganlab setup-metrics`); 10,000 fakes plus 10,000 reals (first time; then cached) take about 27 min on 2 CPU cores.
"""

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

DEFAULT_DATA = "/usr/share/datasets/fashion-mnist"


def pack(samples: Path, config: Path, out: Path) -> None:
    images = torch.from_numpy(np.load(samples))
    pixels = ((images.float() + 1) * 127.5).clamp(0, 255).round().to(torch.uint8)
    np.savez_compressed(out, images=pixels.numpy(), config=np.array(config.read_text()))
    print(f"packed {tuple(pixels.shape)} uint8 images and {config.name} into {out} ({out.stat().st_size:,} bytes)")


class Replay(nn.Module):
    """A generator that returns the stored images in order, whatever z it is given."""

    def __init__(self, images: torch.Tensor):
        super().__init__()
        self.images, self.position = images, 0

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        batch = self.images[self.position : self.position + len(z)]
        if len(batch) < len(z):
            raise SystemExit(f"asked for more than the {len(self.images)} stored images")
        self.position += len(z)
        return batch.to(z.device).float() / 127.5 - 1  # back to [-1, 1]; the Inception input rounds it to 8 bits


def score(samples: Path, metrics: list[str], data: str, inception: str | None) -> dict:
    from wganlab.config import load_config
    from wganlab.training.quality import ImageQuality

    stored = np.load(samples)
    images = torch.from_numpy(stored["images"])
    with tempfile.TemporaryDirectory() as folder:
        config_path = Path(folder) / "config.toml"
        config_path.write_text(str(stored["config"]))
        config = load_config(config_path, [f"data.path={data}", "train.device=cpu"])
    quality = ImageQuality(config)
    results = {"samples": str(samples), "n": len(images), "reference": quality.reference(len(images))}
    for metric in metrics:
        started = time.perf_counter()
        values = quality.measure(
            Replay(images),
            [metric],
            n=len(images),
            rng=torch.Generator().manual_seed(0),
            progress=sys.stderr.isatty(),
            inception_path=inception,
        )
        results.update(values)
        results[f"{metric}_seconds"] = round(time.perf_counter() - started, 1)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    packing = commands.add_parser("pack", help="samples.npy (float, [-1, 1]) + the run's config.toml -> .npz")
    packing.add_argument("samples", type=Path)
    packing.add_argument("config", type=Path)
    packing.add_argument("out", type=Path)
    scoring = commands.add_parser("score", help="FID and FD of a packed .npz against the test split")
    scoring.add_argument("samples", type=Path)
    scoring.add_argument("--metrics", default="fid,fd_fmnist", help="comma list of fid, fd_fmnist, kid")
    scoring.add_argument("--data", default=DEFAULT_DATA, help="the Fashion-MNIST IDX folder")
    scoring.add_argument("--inception", help="default_1.pt (default: the one `wganlab setup-metrics` fetched)")
    args = parser.parse_args()
    if args.command == "pack":
        pack(args.samples, args.config, args.out)
    else:
        metrics = [name for name in args.metrics.split(",") if name]
        print(json.dumps(score(args.samples, metrics, args.data, args.inception)))


if __name__ == "__main__":
    main()
