"""The generator's exponential moving average (train.ema_decay): the formula against hand-computed values, a run's
EMA against its own step files, nothing in training changed by it, resume bit for bit, and --ema / ema=True in
sample, eval and load_generator (with a one-line refusal for runs without one)."""

import json

import numpy as np
import pytest
import torch
from torch import nn

import wganlab
from wganlab.cli import main
from wganlab.errors import CheckpointError, ConfigError
from wganlab.training import loop
from wganlab.training.distributed import init_distributed
from wganlab.training.ema import GeneratorEMA, ema_decay_at
from wganlab.training.run_folder import RunFolder
from wganlab.training.state import build_state, seeded_global_rngs


def load(path):
    return torch.load(path, map_location="cpu", weights_only=True)


def test_warm_up_decay_values():
    # min(beta, (1 + t) / (10 + t)): 0.1 at the first update, then 1/2 at t = 8, 9/10 at t = 80, beta from t = 8,990.
    assert ema_decay_at(0.999, 0) == pytest.approx(0.1)
    assert ema_decay_at(0.999, 8) == pytest.approx(0.5)
    assert ema_decay_at(0.999, 80) == pytest.approx(0.9)
    assert ema_decay_at(0.999, 890) == pytest.approx(0.99)
    assert ema_decay_at(0.999, 8_990) == pytest.approx(0.999)
    assert ema_decay_at(0.999, 1_000_000) == 0.999
    assert ema_decay_at(0.2, 2) == 0.2  # (1 + 2) / (10 + 2) = 0.25 > beta


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.tensor([1.0]))
        self.register_buffer("running", torch.tensor([0.0]))


def test_three_updates_by_hand():
    """beta = 0.2, weights 1 at the start, then 2, 4, 8 after three generator steps:
    t=0: decay 0.1,   ema = 0.1 * 1 + 0.9 * 2 = 1.9
    t=1: decay 2/11,  ema = 2/11 * 1.9 + 9/11 * 4 = 39.8 / 11 = 3.618181...
    t=2: decay 0.2 (beta < 3/12), ema = 0.2 * 39.8 / 11 + 0.8 * 8 = 7.123636...
    Buffers are copied, not averaged."""
    generator = Tiny()
    ema = GeneratorEMA(generator, 0.2)
    expected = [1.9, 39.8 / 11, 0.2 * 39.8 / 11 + 0.8 * 8]
    for step, (weight, want) in enumerate(zip((2.0, 4.0, 8.0), expected, strict=True)):
        with torch.no_grad():
            generator.weight.fill_(weight)
            generator.running.fill_(10.0 * (step + 1))
        ema.update(generator, step)
        torch.testing.assert_close(ema.network.weight, torch.tensor([want]))
        assert torch.equal(ema.network.running, torch.tensor([10.0 * (step + 1)]))
    assert ema.network.weight.dtype == torch.float32 and not ema.network.weight.requires_grad
    assert generator.weight.item() == 8.0  # the generator itself is untouched


def test_a_runs_ema_is_the_average_of_its_own_step_files(tiny_config, tmp_path):
    config = tiny_config("wgan-gp", "train.steps=3", "train.ema_decay=0.5", "log.checkpoint_every=1",
                         "log.keep_checkpoints=3")  # fmt: skip
    loop.train(config, tmp_path / "run", progress=False)
    with seeded_global_rngs(config.train.seed):  # the initial weights, as train() builds them
        initial = build_state(config, init_distributed("cpu"), progress=False).generator.network.state_dict()
    steps = [load(tmp_path / f"run/checkpoints/step-{step:08d}.pt")["generator"] for step in (1, 2, 3)]
    expected = {name: value.clone() for name, value in initial.items()}
    for t, weights in enumerate(steps):
        decay = min(0.5, (1 + t) / (10 + t))
        expected = {name: decay * expected[name] + (1 - decay) * weights[name] for name in weights}
    stored = load(tmp_path / "run/checkpoints/latest.pt")["generator_ema"]
    assert stored.keys() == expected.keys()
    for name in expected:
        torch.testing.assert_close(stored[name], expected[name])


def test_the_ema_changes_nothing_in_training(tiny_config, tmp_path):
    common = ["train.steps=4", "log.log_every=2", "log.eval_every=2", "log.eval_samples=64"]
    plain = loop.train(tiny_config("wgan-gp", *common), tmp_path / "plain", progress=False)
    averaged = loop.train(tiny_config("wgan-gp", *common, "train.ema_decay=0.9"), tmp_path / "ema", progress=False)
    for a, b in (
        (plain.generator.network, averaged.generator.network),
        (plain.critic.network, averaged.critic.network),
    ):
        for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
            assert torch.equal(x, y), name
    assert RunFolder(tmp_path / "plain").records("train") == RunFolder(tmp_path / "ema").records("train")
    plain_evals, ema_evals = (RunFolder(tmp_path / run).records("eval") for run in ("plain", "ema"))
    for a, b in zip(plain_evals, ema_evals, strict=True):
        assert {k: v for k, v in b.items() if not k.endswith("_ema")} == a
        # The sample-quality keys, measured again for the EMA; the critic's own measurements only once.
        quality = {k for k in a if k not in ("step", "images_seen", "kind", "critic_grad_norm", "heldout_w_estimate")}
        assert "w1" in quality and {k.removesuffix("_ema") for k in b if k.endswith("_ema")} == quality
    # Without an EMA the checkpoint has no EMA entry (it holds what it held before EMAs existed).
    assert "generator_ema" not in load(tmp_path / "plain/checkpoints/latest.pt")


def test_resume_with_an_ema_continues_bitwise(tiny_config, tmp_path):
    common = ["train.ema_decay=0.9", "log.log_every=3", "log.checkpoint_every=3", "log.sample_every=100"]
    whole = loop.train(tiny_config("wgan-gp", "train.steps=6", *common), tmp_path / "whole", progress=False)
    loop.train(tiny_config("wgan-gp", "train.steps=3", *common), tmp_path / "split", progress=False)
    resumed = loop.train(tiny_config("wgan-gp", "train.steps=6", *common), tmp_path / "split", resume=True,
                         progress=False)  # fmt: skip
    for (name, x), (_, y) in zip(whole.ema.network.state_dict().items(), resumed.ema.network.state_dict().items(),
                                 strict=True):  # fmt: skip
        assert torch.equal(x, y), name
    a, b = (load(tmp_path / run / "checkpoints/latest.pt")["generator_ema"] for run in ("whole", "split"))
    assert all(torch.equal(a[name], b[name]) for name in a)
    generator = "checkpoints/generator.safetensors"
    assert (tmp_path / "whole" / generator).read_bytes() == (tmp_path / "split" / generator).read_bytes()


@pytest.fixture(scope="module")
def ema_run(tmp_path_factory):
    from wganlab.config import load_config

    run = tmp_path_factory.mktemp("ema") / "run"
    config = load_config(None, ["model.generator_widths=32,32", "model.critic_widths=32,32", "train.batch_size=32",
                                "train.device=cpu", "log.progress=false", "log.tensorboard=false", "train.steps=4",
                                "train.ema_decay=0.9", "log.checkpoint_every=2", "log.eval_every=2",
                                "log.eval_samples=64"])  # fmt: skip
    loop.train(config, run, progress=False)
    return run


def test_load_generator_picks_the_ema_with_one_flag(ema_run):
    latest = load(ema_run / "checkpoints/latest.pt")
    averaged = wganlab.load_generator(ema_run, ema=True)
    raw = wganlab.load_generator(ema_run)
    assert averaged.ema and not raw.ema and averaged.step == raw.step == 4
    for name, value in averaged.state_dict().items():
        assert torch.equal(value, latest["generator_ema"][name]), name
    for name, value in raw.state_dict().items():
        assert torch.equal(value, latest["generator"][name]), name
    step = wganlab.load_generator(ema_run, 2, ema=True)
    for name, value in step.state_dict().items():
        assert torch.equal(value, load(ema_run / "checkpoints/step-00000002.pt")["generator_ema"][name])
    best = wganlab.load_generator(ema_run, "best", ema=True)
    for name, value in best.state_dict().items():
        assert torch.equal(value, load(ema_run / "checkpoints/best.pt")["generator_ema"][name])
    alone = wganlab.load_generator(ema_run / "checkpoints/generator.safetensors", ema=True)
    assert all(torch.equal(a, b) for a, b in zip(alone.state_dict().values(), averaged.state_dict().values(),
                                                   strict=True))  # fmt: skip
    a, b = wganlab.sample(ema_run, 16, ema=True), wganlab.sample(averaged, 16)
    assert torch.equal(a, b) and not torch.equal(a, wganlab.sample(ema_run, 16))
    with pytest.raises(ConfigError, match="ema=True picks the weights"):
        wganlab.sample(raw, 16, ema=True)


def test_sample_and_eval_take_ema(ema_run, tmp_path, capsys):
    out = tmp_path / "ema.npy"
    assert main(["sample", str(ema_run), "--ema", "--n", "16", "--out", str(out)]) == 0
    assert np.array_equal(np.load(out), wganlab.sample(ema_run, 16, ema=True).numpy())  # seed 0 both
    assert main(["eval", str(ema_run), "--ema", "--metrics", "w1", "--n", "64"]) == 0
    written = json.loads((ema_run / "eval-ema.json").read_text())
    assert written["ema"] is True and written["step"] == 4 and written["metrics"]["w1"] > 0
    assert not (ema_run / "eval.json").exists()  # the raw generator's measurement is another file
    assert wganlab.evaluate(ema_run, ["w1"], n=64, checkpoint="best", ema=True)["ema"] is True
    assert (ema_run / "eval-best-ema.json").is_file()


def test_a_run_without_an_ema_says_so_in_one_line(tiny_config, tmp_path, capsys):
    run = tmp_path / "run"
    loop.train(tiny_config("wgan-gp", "train.steps=2"), run, progress=False)
    # Its generator.safetensors is the file format from before EMAs (no ema.* tensors): it still loads.
    assert wganlab.load_generator(run / "checkpoints/generator.safetensors").step == 2
    for source, which in ((run, "latest"), (run, 2), (run / "checkpoints/generator.safetensors", "latest")):
        with pytest.raises(CheckpointError, match="holds no EMA generator .*train.ema_decay=0"):
            wganlab.load_generator(source, which, ema=True)
    capsys.readouterr()
    assert main(["sample", str(run), "--ema", "--out", str(tmp_path / "x.npy")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "holds no EMA generator" in err and "leave out --ema" in err
    assert main(["eval", str(run), "--ema", "--metrics", "w1", "--n", "64"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_ema_decay_is_checked():
    from wganlab.config import load_config

    for bad in ("1", "-0.1", "nan"):
        with pytest.raises(ConfigError, match=r"train.ema_decay=.* must be in \[0, 1\)"):
            load_config(None, [f"train.ema_decay={bad}"])
