"""Counting non-finite values in what a run leaves on disk: every tensor and every float of every checkpoint
file (step files, latest.pt, best.pt) and generator.safetensors, optimiser state and RNG states included."""

import math
from pathlib import Path

import torch
from safetensors.torch import load_file


def non_finite_in(tree) -> int:
    """Non-finite values in nested dicts/lists of tensors and numbers (integer tensors are always finite)."""
    if isinstance(tree, dict):
        return sum(non_finite_in(value) for value in tree.values())
    if isinstance(tree, list | tuple):
        return sum(non_finite_in(value) for value in tree)
    if isinstance(tree, torch.Tensor):
        return int((~torch.isfinite(tree)).sum()) if tree.is_floating_point() else 0
    if isinstance(tree, float):
        return 0 if math.isfinite(tree) else 1
    return 0


def checkpoint_files(run_dir: Path) -> list[Path]:
    folder = Path(run_dir) / "checkpoints"
    return sorted(folder.glob("*.pt")) + sorted(folder.glob("*.safetensors")) if folder.is_dir() else []


def non_finite_in_file(path: Path) -> int:
    if path.suffix == ".safetensors":
        return non_finite_in(load_file(path))
    return non_finite_in(torch.load(path, map_location="cpu", weights_only=True))
