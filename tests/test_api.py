"""The Python API: train, load_generator, sample, evaluate; what `import wganlab` costs and leaves alone."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors import safe_open
from torch.testing import assert_close

import wganlab
from wganlab.errors import CheckpointError, ConfigError, MetricError

SMALL = {
    "model": {"generator_widths": (16, 16), "critic_widths": (16, 16)},
    "train": {"batch_size": 16, "device": "cpu"},
    "log": {"progress": False, "tensorboard": False},
}


def small(**sections) -> dict:
    return {name: {**SMALL.get(name, {}), **sections.get(name, {})} for name in {*SMALL, *sections}}


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory):
    """8 Gaussians, WGAN-GP preset by name: 6 steps, an evaluation (and so best.pt) every 2, step files every 2."""
    out = tmp_path_factory.mktemp("api") / "toy"
    log = {"eval_every": 2, "eval_samples": 100, "checkpoint_every": 2, "keep_checkpoints": 5}
    returned = wganlab.train("eight_gaussians/wgan-gp", out=out, **small(train={"steps": 6}, log=log))
    assert returned == out
    return out


@pytest.fixture(scope="module")
def image_run(tmp_path_factory):
    """A 4-step MLP run on 12 gray 8x8 images from a .npy: the smallest image run."""
    folder = tmp_path_factory.mktemp("images")
    np.save(folder / "set.npy", np.random.default_rng(0).integers(0, 256, (12, 8, 8), dtype=np.uint8))
    data = {"source": "array", "path": str(folder / "set.npy")}
    return wganlab.train(None, out=folder / "run", **small(data=data, model={"z_dim": 4}, train={"steps": 4}))


def test_import_wganlab_loads_no_torch_and_exports_the_api():
    code = (
        "import sys, wganlab; assert 'torch' not in sys.modules, 'torch imported'; "
        "print(sorted(wganlab.__all__)); print(callable(wganlab.train), callable(wganlab.load_generator))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.splitlines()
    assert out[0] == str(
        [
            "RunConfig",
            "__version__",
            "compare",
            "evaluate",
            "load_config",
            "load_generator",
            "presets",
            "sample",
            "train",
        ]
    )
    assert out[1] == "True True"


@pytest.mark.slow  # long: the slow tier (CI runs it) keeps it
def test_wganlab_never_changes_the_matplotlib_backend(tmp_path):
    # A notebook has its own backend; a whole run with TensorBoard pictures, sampling to PNG and a study figure
    # must leave it as it was and never import pyplot (which picks a backend).
    code = f"""
import sys, matplotlib
matplotlib.use("svg")
import wganlab
run = wganlab.train("eight_gaussians/gan", out=r"{tmp_path / "run"}", train={{"steps": 2, "device": "cpu"}},
                    log={{"progress": False, "sample_every": 1}},
                    model={{"generator_widths": (8,), "critic_widths": (8,)}})
wganlab.sample(run, 50, out=r"{tmp_path / "s.png"}")
import wganlab.cli, wganlab.studies.common.report, wganlab.demo
print(matplotlib.get_backend(), "matplotlib.pyplot" in sys.modules)
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["svg", "False"]


def test_train_by_preset_with_overrides_and_refuses_an_existing_run(toy_run):
    config = wganlab.load_config(toy_run / "config.toml")
    assert (config.objective.name, config.train.steps, config.model.critic_widths) == ("wgan-gp", 6, (16, 16))
    assert json.loads((toy_run / "outcome.json").read_text())["step"] == 6
    with pytest.raises(ConfigError, match="already holds a run; add --resume"):
        wganlab.train("eight_gaussians/wgan-gp", out=toy_run, **small(train={"steps": 6}))
    with pytest.raises(ConfigError, match="unknown keyword steps="):
        wganlab.train("eight_gaussians/wgan-gp", out=toy_run, steps=6)
    with pytest.raises(ConfigError, match=r"--resume: .*typo does not exist"):
        wganlab.train("eight_gaussians/wgan-gp", out=toy_run.parent / "typo", resume=True, **small())
    assert not (toy_run.parent / "typo").exists()


def test_dotted_keyword_overrides_and_a_config_object(tmp_path):
    config = wganlab.load_config("eight_gaussians/wgan", ["train.steps=1"])
    run = wganlab.train(config, out=tmp_path / "run", **{"train.steps": 2, "objective.clip_value": 0.02}, **small())
    stored = wganlab.load_config(run / "config.toml")
    assert (stored.train.steps, stored.objective.clip_value, stored.optim.optimizer) == (2, 0.02, "rmsprop")


def test_load_generator_latest_best_and_step(toy_run):
    latest = wganlab.load_generator(toy_run)
    assert not latest.training and (latest.step, latest.z_dim, latest.sample_shape) == (6, 2, (2,))
    best_payload = torch.load(toy_run / "checkpoints" / "best.pt", weights_only=True)
    best = wganlab.load_generator(toy_run, checkpoint="best")
    assert best.step == best_payload["step"]
    for name, value in best.state_dict().items():
        assert torch.equal(value, best_payload["generator"][name]), name
    step4 = wganlab.load_generator(toy_run, checkpoint=4)
    step4_payload = torch.load(toy_run / "checkpoints" / "step-00000004.pt", weights_only=True)
    assert step4.step == 4
    assert all(torch.equal(v, step4_payload["generator"][k]) for k, v in step4.state_dict().items())
    with pytest.raises(CheckpointError, match="no checkpoint .*step-00000003.pt; steps kept: 2, 4, 6"):
        wganlab.load_generator(toy_run, checkpoint=3)


def test_generator_file_alone_rebuilds_the_generator(toy_run, tmp_path):
    alone = tmp_path / "g.safetensors"
    shutil.copy(toy_run / "checkpoints" / "generator.safetensors", alone)
    with safe_open(str(alone), "pt") as handle:
        metadata = handle.metadata()
    assert metadata["format"] == "wganlab-generator-1" and json.loads(metadata["sample_shape"]) == [2]
    assert metadata["config"] == (toy_run / "config.toml").read_text()
    generator = wganlab.load_generator(alone)
    assert (generator.step, generator.config) == (6, wganlab.load_config(toy_run / "config.toml"))
    assert torch.equal(wganlab.sample(generator, 20, seed=3), wganlab.sample(toy_run, 20, seed=3))
    with pytest.raises(ConfigError, match="needs a run folder"):
        wganlab.load_generator(alone, checkpoint="best")


def test_run_json_records_the_number_of_training_images(image_run, toy_run):
    # What turns images_seen into epochs (architecture-grid's s / epoch for any --data); toys have no such count.
    assert json.loads((image_run / "run.json").read_text())["training_images"] == 12
    assert json.loads((toy_run / "run.json").read_text())["training_images"] is None


def test_sample_is_seeded_and_writes_npy_png_and_png_folders(image_run, tmp_path):
    generator = wganlab.load_generator(image_run)
    first = wganlab.sample(generator, 5, seed=1, out=tmp_path / "a.npy")
    assert first.shape == (5, 1, 8, 8) and first.min() >= -1 and first.max() <= 1
    assert torch.equal(first, wganlab.sample(image_run, 5, seed=1))
    assert not torch.equal(first, wganlab.sample(image_run, 5, seed=2))
    assert np.array_equal(np.load(tmp_path / "a.npy"), first.numpy())
    wganlab.sample(image_run, 5, seed=1, out=f"{tmp_path / 'pngs'}/")
    files = sorted(p.name for p in (tmp_path / "pngs").iterdir())
    assert files == [f"{i:06d}.png" for i in range(5)]
    # Each PNG holds the sample's own pixels: x in [-1, 1] -> round((x + 1) * 127.5), at 8x8, gray.
    picture = np.asarray(Image.open(tmp_path / "pngs" / "000003.png"))
    assert picture.shape == (8, 8)
    assert np.array_equal(picture, ((first[3, 0] + 1) * 127.5).round().to(torch.uint8).numpy())
    with pytest.raises(ConfigError, match="already holds 5 PNG files"):
        wganlab.sample(image_run, 5, out=tmp_path / "pngs")
    with pytest.raises(ConfigError, match="must end in .png"):
        wganlab.sample(image_run, 5, out=tmp_path / "a.jpg")


def test_toy_samples_cannot_become_a_png_folder(toy_run, tmp_path):
    with pytest.raises(ConfigError, match="one PNG per image, but these samples are points"):
        wganlab.sample(toy_run, 10, out=f"{tmp_path}/points/")


def test_a_module_of_ones_own_needs_z_dim():
    plain = torch.nn.Linear(3, 2)
    with pytest.raises(ConfigError, match="needs z_dim="):
        wganlab.sample(plain, 4)
    assert wganlab.sample(plain, 4, z_dim=3).shape == (4, 2)


def test_evaluate_a_chosen_checkpoint(toy_run):
    latest = wganlab.evaluate(toy_run, ["w1"], n=200)
    best = wganlab.evaluate(toy_run, ["w1"], n=200, checkpoint="best")
    assert json.loads((toy_run / "eval.json").read_text()) == latest
    assert json.loads((toy_run / "eval-best.json").read_text()) == best
    assert best["checkpoint"] == "best" and best["step"] == wganlab.load_generator(toy_run, "best").step
    # best.pt holds the evaluation with the lowest W1 so far; measuring it again with another seed and n need not
    # reproduce that value, but the same checkpoint, seed and n must give the same number.
    assert_close(wganlab.evaluate(toy_run, ["w1"], n=200, checkpoint="best")["metrics"], best["metrics"])


def test_evaluate_the_inception_score_from_user_weights_without_the_fid_file(image_run, tmp_path, monkeypatch):
    from wganlab.metrics import features

    sys.path.insert(0, str(Path(__file__).parent / "metrics"))
    from test_inception_v3 import synthetic_weights

    torch.save(synthetic_weights(), tmp_path / "pt_inception.pth")
    monkeypatch.setattr(features, "default_inception_path", lambda: None)  # IS needs only the classifier
    results = wganlab.evaluate(image_run, ["is"], n=10, inception_weights=tmp_path / "pt_inception.pth")
    # 10 samples in the default 10 splits: one image per split, whose marginal p(y) is its own p(y|x), so every
    # KL term is 0 and the score is exp(0) = 1 in every split.
    assert_close((results["metrics"]["is_mean"], results["metrics"]["is_std"]), (1.0, 0.0))
    with pytest.raises(MetricError, match="pass --inception-weights PATH"):
        wganlab.evaluate(image_run, ["is"], n=10)
