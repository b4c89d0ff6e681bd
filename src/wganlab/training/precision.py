"""Mixed precision, device-generic: the autocast context for train.precision and the fp16 loss scale.

bf16 (CPU with AMX/AVX-512 bf16, Ampere+ GPUs) needs no loss scaling: its exponent range is fp32's. fp16 (CUDA
only) uses a GradScaler per optimiser; the gradient penalty takes its inner gradient at the current scale
(PyTorch's AMP gradient-penalty recipe: scale, autograd.grad, unscale, then the norm in fp32).
"""

import contextlib

import torch
from torch import Tensor

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """autocast to the precision's dtype on `device` (a no-op for fp32)."""
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=DTYPES[precision])


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
