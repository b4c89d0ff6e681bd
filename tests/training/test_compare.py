"""`wganlab metrics A B` / `wganlab fid A B` (training/compare.py): the same numbers as `wganlab eval` on the same
images, statistics files, bad inputs. A small fixed network stands in for the TF Inception (the real one runs at
~12 images/s on the CPU); it takes the same input pipeline (`to_inception_input`), so 8-bit rounding is tested
too. One slow test repeats the comparison with the real feature file."""

import json

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn
from torch.testing import assert_close

import wganlab
from wganlab import cli
from wganlab.metrics import evaluate as evaluate_module
from wganlab.metrics import features as features_module
from wganlab.metrics.features import to_inception_input
from wganlab.training.compare import compare_sets
from wganlab.training.quality import kid_subsets_rng, sample_drawer
from wganlab.training.samples import save_png_folder

# Every set here is far below 5,000 images; the one test of that warning catches it with pytest.warns.
pytestmark = pytest.mark.filterwarnings("ignore:FID of .* images is biased upwards")

N = 100  # two Inception batches of eval's 64
REAL_IMAGES = 120  # more than N: both eval and metrics take the seeded random 100 of them


class SmallFeatures(nn.Module):
    """The TF Inception's input pipeline (8-bit levels, gray to RGB, bilinear resize, (v - 128) / 128) at 16 px,
    then one fixed random convolution and a global average: (N, 24) features."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 24, 5, stride=2)
        rng = torch.Generator().manual_seed(0)
        with torch.no_grad():
            self.conv.weight.copy_(torch.randn(self.conv.weight.shape, generator=rng) * 0.2)
            self.conv.bias.zero_()
        self.requires_grad_(False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.conv(to_inception_input(images, size=16))).mean(dim=(2, 3))


@pytest.fixture
def stand_in(monkeypatch, tmp_path):
    """SmallFeatures wherever the TF Inception would be built, and a dummy feature file for the reference key."""
    feature_file = tmp_path / "stand-in.pt"
    feature_file.write_bytes(b"stand-in feature network")
    monkeypatch.setattr(evaluate_module, "InceptionFeatures", lambda path=None: SmallFeatures())
    monkeypatch.setattr(features_module, "InceptionFeatures", lambda path=None: SmallFeatures())
    monkeypatch.setattr(features_module, "resolve_inception_path", lambda path=None: feature_file)
    return feature_file


@pytest.fixture(scope="module")
def image_run(tmp_path_factory):
    """A 4-step MLP run on 120 gray 8x8 images from a .npy (no test split: eval compares with these)."""
    folder = tmp_path_factory.mktemp("compare")
    images = np.random.default_rng(0).integers(0, 256, (REAL_IMAGES, 8, 8), dtype=np.uint8)
    np.save(folder / "reals.npy", images)
    run = wganlab.train(
        None,
        out=folder / "run",
        data={"source": "array", "path": str(folder / "reals.npy")},
        model={"generator_widths": (16, 16), "critic_widths": (16, 16), "z_dim": 4},
        train={"steps": 4, "batch_size": 16, "device": "cpu"},
        log={"progress": False, "tensorboard": False},
    )
    return run, folder / "reals.npy"


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def eval_samples(run, n: int, seed: int) -> torch.Tensor:
    """The n images `wganlab eval RUN --seed seed` measures: KID's seed drawn first, then z in batches of 64."""
    generator = wganlab.load_generator(run)
    rng = torch.Generator().manual_seed(seed)
    kid_subsets_rng(rng)
    draw = sample_drawer(generator, generator.z_dim, rng)
    return torch.cat([draw(min(64, n - start)) for start in range(0, n, 64)])


@pytest.mark.parametrize("n", [N, 130])  # fewer and more samples than the 120 real images
def test_metrics_of_exported_pngs_equal_eval_of_the_run(image_run, stand_in, tmp_path, capsys, n):
    run, reals = image_run
    code, out, err = run_cli(capsys, "eval", str(run), "--metrics", "fid,kid,pr", "--n", str(n), "--seed", "3")
    assert code == 0, err
    evaluated = json.loads(out)["metrics"]
    # The same images as PNGs, written by `wganlab sample --out DIR/`'s writer. PNG holds 8-bit levels, and the
    # Inception input rounds eval's floats to the same levels ((x + 1) * 127.5, rounded half to even, both), so
    # the features, and every metric, are equal bit for bit: no tolerance.
    save_png_folder(eval_samples(run, n, seed=3), tmp_path / "pngs")
    with pytest.warns(
        UserWarning, match=rf"FID of {min(n, 120)} images is biased upwards: .* at n = 1,000, .*metrics.md"
    ):
        code, out, err = run_cli(capsys, "metrics", f"{tmp_path}/pngs", str(reals), "--n", str(n), "--seed", "3")
    assert code == 0, err
    measured = json.loads(out)
    assert measured["metrics"] == evaluated
    assert {"fid", "kid_mean", "kid_subset_size", "kid_subsets", "precision", "recall"} <= set(evaluated)
    assert evaluated["kid_subsets"] == (1 if n <= REAL_IMAGES else 100)  # 100 subsets of 120 from 130 and 120
    assert (measured["n_a"], measured["n_b"]) == (n, min(n, REAL_IMAGES))
    # The run folder itself as A: its samples drawn as eval draws them.
    code, out, err = run_cli(capsys, "metrics", str(run), str(reals), "--n", str(n), "--seed", "3")
    assert code == 0, err
    assert json.loads(out)["metrics"] == evaluated
    code, out, err = run_cli(capsys, "fid", str(run), str(reals), "--n", str(n), "--seed", "3")
    assert code == 0 and float(out) == pytest.approx(evaluated["fid"], abs=5e-5)  # printed to 4 decimals


def test_saved_statistics_give_the_same_values(image_run, tmp_path):
    run, reals = image_run
    options = dict(n=N, extractor=SmallFeatures(), progress=False)
    direct = compare_sets(run, reals, ["fid", "kid", "pr"], **options)
    compare_sets(run, None, save_stats=tmp_path / "run.npz", **options)
    compare_sets(reals, None, save_stats=tmp_path / "reals.npz", **options)
    from_files = compare_sets(tmp_path / "run.npz", tmp_path / "reals.npz", ["fid", "kid", "pr"], **options)
    assert from_files["metrics"] == direct["metrics"]
    mixed = compare_sets(run, tmp_path / "reals.npz", ["fid", "kid", "pr"], **options)
    assert mixed["metrics"] == direct["metrics"]
    with np.load(tmp_path / "reals.npz") as saved:
        assert saved["mu"].shape == (24,) and saved["sigma"].shape == (24, 24) and saved["features"].shape == (N, 24)
        assert int(saved["count"]) == N
        # pytorch-fid's own layout: mu and sigma alone, enough for FID.
        np.savez_compressed(tmp_path / "pytorch-fid.npz", mu=saved["mu"], sigma=saved["sigma"])
    with pytest.warns(UserWarning, match="does not say how its statistics were made"):
        fid_only = compare_sets(run, tmp_path / "pytorch-fid.npz", ["fid"], **options)
    assert fid_only["metrics"]["fid"] == direct["metrics"]["fid"]
    with pytest.raises(wganlab.errors.DataError, match="already exists"):
        compare_sets(run, None, save_stats=tmp_path / "run.npz", **options)


def test_a_folder_a_zip_and_an_array_of_the_same_images_agree(tmp_path):
    import zipfile

    images = torch.from_numpy(np.random.default_rng(1).integers(0, 256, (30, 3, 12, 12), dtype=np.uint8))
    save_png_folder(images.float() / 127.5 - 1, tmp_path / "folder" / "inner")  # found recursively
    np.save(tmp_path / "images.npy", images.numpy())
    with zipfile.ZipFile(tmp_path / "images.zip", "w") as archive:
        for file in sorted((tmp_path / "folder" / "inner").iterdir()):
            archive.write(file, f"00000/{file.name}")
    options = dict(n=N, extractor=SmallFeatures(), progress=False)
    reference = np.random.default_rng(2).integers(0, 256, (40, 12, 12), dtype=np.uint8)
    np.save(tmp_path / "reference.npy", reference)
    values = [
        compare_sets(tmp_path / name, tmp_path / "reference.npy", ["fid", "pr"], **options)["metrics"]
        for name in ("folder", "images.zip", "images.npy")
    ]
    assert values[0] == values[1] == values[2]
    # A set against itself: FID 0 (up to the square root's rounding), every point inside the other's manifold.
    same = compare_sets(tmp_path / "images.npy", tmp_path / "folder", ["fid", "pr"], **options)["metrics"]
    assert_close(same["fid"], 0.0, atol=1e-6, rtol=0)
    assert (same["precision"], same["recall"]) == (1.0, 1.0)


def test_images_of_other_sizes_need_image_size(tmp_path, capsys):
    (tmp_path / "mixed").mkdir()
    Image.new("RGB", (10, 10)).save(tmp_path / "mixed" / "a.png")
    Image.new("RGB", (12, 9)).save(tmp_path / "mixed" / "b.png")
    code, _, err = run_cli(capsys, "fid", str(tmp_path / "mixed"), str(tmp_path / "mixed"))
    assert code == 2 and "pass --image-size S" in err and err.startswith("wganlab fid: error: A: ")
    assert len(err.strip().splitlines()) == 1
    values = compare_sets(
        tmp_path / "mixed", tmp_path / "mixed", ["fid"], image_size=8, extractor=SmallFeatures(), progress=False
    )
    assert values["n_a"] == 2


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["metrics", "{tmp}/missing", "{tmp}/b.npy"], "A {tmp}/missing does not exist; pass an image folder"),
        (["metrics", "{tmp}/b.npy", "{tmp}/notes.txt"], "B {tmp}/notes.txt is not an image folder"),
        (["metrics", "{tmp}/b.npy", "{tmp}/b.npy", "--metrics", "fid,is"], "--metrics: is is not a metric of two"),
        (["metrics", "{tmp}/b.npy"], "give B, the set to compare A with, or --save-stats"),
        (["metrics", "{tmp}/b.npy", "{tmp}/stats.npz", "--metrics", "kid"], "holds mu and sigma only"),
        (["metrics", "{tmp}/b.npy", "{tmp}/b.npy", "--save-stats", "{tmp}/out.txt"], "must end in .npz"),
        (["fid", "{tmp}/b.npy", "{tmp}/b.npy", "--n", "1"], "--n 1 must be at least 2"),
    ],
)
def test_bad_inputs_are_one_line_and_exit_2(stand_in, tmp_path, capsys, argv, message):
    np.save(tmp_path / "b.npy", np.zeros((4, 8, 8), np.uint8))
    (tmp_path / "notes.txt").write_text("not images")
    np.savez(tmp_path / "stats.npz", mu=np.zeros(24), sigma=np.eye(24))
    code, out, err = run_cli(capsys, *(part.format(tmp=tmp_path) for part in argv))
    assert code == 2 and out == ""
    errors = [line for line in err.splitlines() if "error:" in line]
    assert len(errors) == 1 and message.format(tmp=tmp_path) in errors[0], err


@pytest.mark.slow
def test_metrics_equal_eval_with_the_real_inception(image_run, tmp_path, capsys):
    """The first test's equality with the TF Inception itself (80 images at 299 px: about 25 s of one CPU thread)."""
    if features_module.default_inception_path() is None:
        pytest.skip("no TF-Inception feature file: run `wganlab setup-metrics`")
    run, reals = image_run
    code, out, err = run_cli(capsys, "eval", str(run), "--metrics", "fid,kid,pr", "--n", "20")
    assert code == 0, err
    evaluated = json.loads(out)["metrics"]
    save_png_folder(eval_samples(run, 20, seed=0), tmp_path / "pngs")
    code, out, err = run_cli(capsys, "metrics", str(tmp_path / "pngs"), str(reals), "--n", "20")
    assert code == 0, err
    assert json.loads(out)["metrics"] == evaluated


def test_a_toy_run_is_refused_before_any_feature_work(tmp_path, capsys):
    run = wganlab.train(
        "eight_gaussians/wgan-gp",
        out=tmp_path / "toy",
        model={"generator_widths": (8,), "critic_widths": (8,)},
        train={"steps": 2, "batch_size": 8, "device": "cpu"},
        log={"progress": False, "tensorboard": False, "eval_every": 0},
    )
    code, out, err = run_cli(capsys, "fid", str(run), str(run))
    assert code == 2 and out == ""
    assert (
        err.strip() == f"wganlab fid: error: A {run} is a run on eight_gaussians points, not images; "
        f"measure it with `wganlab eval {run}`"
    )
