"""Train the Fashion-MNIST classifier behind FD (F-MNIST classifier) and write its safetensors weights.

Reproducible: one seed drives the init (`torch.manual_seed`) and a `torch.Generator` drives the data order
and every augmentation draw; one CPU thread with deterministic algorithms gives the same weights every run.

Augmentation makes every way our generators show Fashion-MNIST look in-distribution once resized to 28 px:
- zoom-out: pad 1-4 px of -1 background per side, resize back to 28 (a 32 px image made by padding 2 px
  per side is exactly the pad-2 case);
- resampling round trip: 28 -> 32 or 64 (bicubic, close to Pillow's Lanczos) -> 28, as a Lanczos-resized
  32 or 64 px generator output is resized back by the metric;
- shifts of up to 2 px, since generated objects are not always centred as exactly as the real ones.
The resize back to 28 is the metric's own (`to_classifier_input`), so training and scoring see one pipeline.

    OMP_NUM_THREADS=1 python scripts/train_fashion_classifier.py            # writes the shipped weights
"""

import argparse
import hashlib
import json
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from safetensors.torch import save_file
from torch import Tensor, nn

from wganlab.data.sources.idx import load_idx
from wganlab.metrics.classifier import (
    INPUT_SIZE,
    WEIGHTS_PATH,
    FashionClassifier,
    load_fashion_labels,
    to_classifier_input,
)

MAX_SHIFT = 2
ZOOM_PADS = (1, 2, 3, 4)
ROUND_TRIP_SIZES = (32, 64)
# One view per sample, uniformly: as is, four zoom-outs, two resampling round trips.
VIEWS = (("none", 0),) + tuple(("pad", p) for p in ZOOM_PADS) + tuple(("round_trip", s) for s in ROUND_TRIP_SIZES)


def shift(images: Tensor, rng: torch.Generator) -> Tensor:
    """Each image moved by its own (dy, dx) in [-2, 2]^2, the uncovered border filled with background -1."""
    count, _, size, _ = images.shape
    padded = nn.functional.pad(images, (MAX_SHIFT,) * 4, value=-1.0)
    offsets = torch.randint(0, 2 * MAX_SHIFT + 1, (count, 2), generator=rng)
    rows = offsets[:, :1] + torch.arange(size)  # (count, size)
    cols = offsets[:, 1:] + torch.arange(size)
    return padded[torch.arange(count)[:, None, None], 0, rows[:, :, None], cols[:, None, :]].unsqueeze(1)


def change_view(images: Tensor, kind: str, amount: int) -> Tensor:
    """One of VIEWS, ending in the metric's own resize back to 28 px."""
    if kind == "pad":
        return to_classifier_input(nn.functional.pad(images, (amount,) * 4, value=-1.0))
    if kind == "round_trip":
        large = nn.functional.interpolate(images, size=(amount, amount), mode="bicubic", align_corners=False)
        return to_classifier_input(large.clamp(-1, 1))
    return images


def augment(images: Tensor, rng: torch.Generator) -> Tensor:
    """A shift, then one view per image drawn uniformly from VIEWS (grouped by view: one resize per group)."""
    images = shift(images, rng)
    views = torch.randint(0, len(VIEWS), (len(images),), generator=rng)
    out = torch.empty_like(images)
    for index, (kind, amount) in enumerate(VIEWS):
        chosen = (views == index).nonzero().flatten()
        if len(chosen):
            out[chosen] = change_view(images[chosen], kind, amount)
    return out


def lanczos(images: np.ndarray, size: int) -> np.ndarray:
    """uint8 (N, 1, 28, 28) -> (N, 1, size, size) with Pillow's Lanczos, as the data pipeline resizes."""
    resized = [Image.fromarray(image[0]).resize((size, size), Image.Resampling.LANCZOS) for image in images]
    return np.stack([np.asarray(image) for image in resized])[:, None]


@torch.no_grad()
def accuracy(net: FashionClassifier, images: Tensor, labels: Tensor, batch_size: int = 1000) -> float:
    """Top-1 accuracy of `images` (any square size, uint8) through the metric's own input pipeline."""
    net.eval()
    correct = 0
    for start in range(0, len(images), batch_size):
        logits = net(to_classifier_input(images[start : start + batch_size]))
        correct += int((logits.argmax(dim=1) == labels[start : start + batch_size]).sum())
    return correct / len(images)


def conventions(test_uint8: np.ndarray) -> dict[str, Tensor]:
    """The test set as our generators' data pipelines show it: 28 px, 32 px padded or Lanczos, 64 px."""
    padded = np.pad(test_uint8, ((0, 0), (0, 0), (2, 2), (2, 2)), constant_values=0)
    return {
        "28": torch.from_numpy(test_uint8),
        "pad32": torch.from_numpy(padded),
        "lanczos32": torch.from_numpy(lanczos(test_uint8, 32)),
        "lanczos64": torch.from_numpy(lanczos(test_uint8, 64)),
    }


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=3e-3, help="peak learning rate of the one-cycle schedule")
    parser.add_argument("--weight-decay", type=float, default=5e-4)
    parser.add_argument("--data", default="", help="Fashion-MNIST IDX folder; empty: the Debian location")
    parser.add_argument("--out", type=Path, default=WEIGHTS_PATH)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(args.seed)  # the default init of conv and linear layers draws from the global RNG
    rng = torch.Generator().manual_seed(args.seed)
    started = time.perf_counter()

    train_images = to_classifier_input(torch.from_numpy(load_idx(args.data, "train").copy()))
    train_labels = torch.from_numpy(load_fashion_labels(args.data, "train")).long()
    test_uint8 = load_idx(args.data, "test").copy()
    test_labels = torch.from_numpy(load_fashion_labels(args.data, "test")).long()

    net = FashionClassifier()
    optimizer = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    steps_per_epoch = len(train_images) // args.batch_size  # the ragged tail is dropped each epoch
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=args.lr, total_steps=args.epochs * steps_per_epoch, pct_start=0.25
    )
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(args.epochs):
        net.train()
        order = torch.randperm(len(train_images), generator=rng)
        running = torch.zeros(())
        for step in range(steps_per_epoch):
            index = order[step * args.batch_size : (step + 1) * args.batch_size]
            loss = loss_fn(net(augment(train_images[index], rng)), train_labels[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            running += loss.detach()
        test_accuracy = accuracy(net, torch.from_numpy(test_uint8), test_labels)
        print(
            f"epoch {epoch + 1}/{args.epochs}: train loss {float(running) / steps_per_epoch:.4f}, "
            f"test accuracy {test_accuracy:.4f}, {time.perf_counter() - started:.0f} s",
            flush=True,
        )

    by_convention = {name: accuracy(net, images, test_labels) for name, images in conventions(test_uint8).items()}
    train_seconds = time.perf_counter() - started
    metadata = {
        "model": "FashionClassifier (wganlab.metrics.classifier): conv 32-64-128 + BN, 128-d features",
        "seed": str(args.seed),
        "epochs": str(args.epochs),
        "batch_size": str(args.batch_size),
        "lr": str(args.lr),
        "weight_decay": str(args.weight_decay),
        "test_accuracy": f"{by_convention['28']:.4f}",
        "test_accuracy_by_input": json.dumps({k: round(v, 4) for k, v in by_convention.items()}),
        "train_seconds": f"{train_seconds:.0f}",
        "input_size": str(INPUT_SIZE),
        "torch": torch.__version__,
        "script_sha256": hashlib.sha256(Path(__file__).read_bytes()).hexdigest(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    state = {name: tensor.contiguous() for name, tensor in net.state_dict().items()}
    save_file(state, str(args.out), metadata=metadata)
    print(json.dumps(metadata, indent=2))
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB) in {train_seconds:.0f} s")


if __name__ == "__main__":
    main()
