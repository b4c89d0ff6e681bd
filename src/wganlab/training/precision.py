"""Mixed precision, device-generic: the autocast context for train.precision and the fp16 loss scale.

bf16 (CPU with AMX/AVX-512 bf16, Ampere+ GPUs) needs no loss scaling: its exponent range is fp32's. fp16 (CUDA
only) uses a GradScaler per optimiser; the gradient penalty takes its inner gradient at the current scale
(PyTorch's AMP gradient-penalty recipe: scale, autograd.grad, unscale, then the norm in fp32).
"""

import contextlib
from pathlib import Path

import torch
from torch import Tensor

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """autocast to the precision's dtype on `device` (a no-op for fp32)."""
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=DTYPES[precision])


def native_bf16(device: torch.device) -> bool:
    """Whether `device` computes in bf16 natively: a GPU that supports it, or a CPU with AVX512-BF16 or AMX. Without
    those (an AVX2-only CPU) oneDNN emulates bf16 matmuls and convolutions: the default image cell's WGAN-GP step
    measured 16x slower in bf16 autocast than in fp32 on one AVX2 core (benchmarks/results/speed.md, Run 9)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type != "cpu":
        return True  # another accelerator: its own business
    probes = [getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    if any(probe is not None for probe in probes):
        return any(probe() for probe in probes if probe is not None)
    try:  # a torch without the probes: the kernel's flags
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return True  # cannot tell: say nothing
    return "avx512_bf16" in flags or "amx_bf16" in flags


def make_scaler(device: torch.device, precision: str) -> torch.amp.GradScaler:
    """A GradScaler that is on for fp16 only (disabled, its scale/step/update are plain pass-throughs)."""
    return torch.amp.GradScaler(device.type, enabled=precision == "fp16")


def loss_scale(scaler: torch.amp.GradScaler, device: torch.device) -> Tensor | None:
    """The scaler's current scale as a device tensor, or None when scaling is off.

    GradScaler.get_scale() returns a Python float, a host sync on every critic step; the scale tensor itself
    is what scaler.scale(loss) multiplies by, so the penalty's inner gradient sees exactly the same factor.
    """
    if not scaler.is_enabled():
        return None
    if scaler._scale is None:  # created lazily by the first scaler.scale(); the penalty runs before that
        scaler._lazy_init_scale_growth_tracker(device)
    return scaler._scale
