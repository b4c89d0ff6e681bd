import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from wganlab.cli import main
from wganlab.errors import ConfigError

SMALL = [
    "model.generator_widths=16,16",
    "model.critic_widths=16,16",
    "train.batch_size=16",
    "train.device=cpu",
    "log.progress=false",
    "log.tensorboard=false",
]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("cli") / "run"
    code = main(
        [
            "train",
            "configs/eight_gaussians/wgan-gp.toml",
            "--out",
            str(run),
            "train.steps=4",
            "log.eval_every=2",
            "log.eval_samples=100",
            "log.tensorboard=true",
            *SMALL[:-1],
        ]
    )
    assert code == 0
    return run


def test_train_writes_the_run_folder(trained_run):
    names = {p.name for p in trained_run.iterdir()}
    assert {"config.toml", "run.json", "command.txt", "metrics.jsonl", "checkpoints", "samples"} <= names
    assert any(name.startswith("events.out.tfevents") for name in names)
    rows = [json.loads(line) for line in (trained_run / "metrics.jsonl").read_text().splitlines()]
    train_rows = [r for r in rows if r["kind"] == "train"]
    assert {
        "step",
        "images_seen",
        "critic_loss",
        "generator_loss",
        "w_estimate",
        "penalty",
    } <= set(train_rows[-1])
    timing = [json.loads(line) for line in (trained_run / "timing.jsonl").read_text().splitlines()]
    assert [r["step"] for r in timing] == [r["step"] for r in train_rows]
    assert all(0 < r["train_seconds"] <= r["seconds"] for r in timing)
    outcome = json.loads((trained_run / "outcome.json").read_text())
    assert outcome["status"] == "finished" and outcome["step"] == train_rows[-1]["step"]
    assert [r["step"] for r in rows if r["kind"] == "eval"] == [2, 4]
    assert {p.name for p in (trained_run / "samples").iterdir()} == {"reals.png", "step-00000004.png"}


def test_sample_writes_npy_and_png_reproducibly(trained_run, tmp_path):
    assert main(["sample", str(trained_run), "--n", "50", "--seed", "3", "--out", str(tmp_path / "a.npy")]) == 0
    assert main(["sample", str(trained_run), "--n", "50", "--seed", "3", "--out", str(tmp_path / "b.npy")]) == 0
    a, b = np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy")
    assert a.shape == (50, 2)
    assert np.array_equal(a, b)
    assert main(["sample", str(trained_run), "--n", "50", "--out", str(tmp_path / "s.png")]) == 0
    assert Image.open(tmp_path / "s.png").size[0] > 100


def test_eval_writes_eval_json_with_toy_metrics(trained_run):
    assert main(["eval", str(trained_run), "--n", "300"]) == 0
    results = json.loads((trained_run / "eval.json").read_text())
    assert results["step"] == 4
    assert results["n"] == 300
    assert {"w1", "sliced_w2", "modes_hit", "high_quality_share"} <= set(results["metrics"])
    assert results["metrics"]["w1"] > 0


def test_dry_run_prints_the_resolved_config(capsys):
    assert main(["train", "configs/eight_gaussians/wgan.toml", "--dry-run", "train.steps=7"]) == 0
    printed = capsys.readouterr().out
    assert "steps = 7" in printed
    assert 'optimizer = "rmsprop"' in printed


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "configs/eight_gaussians/wgan.toml", "train.stepz=1"], "did you mean 'steps'?"),
        (["train", "no/such.toml"], "no/such.toml does not exist"),
        (["eval", "no/such/run"], "is missing"),
        (["sample", "no/such/run", "--out", "x.png"], "is missing"),
        (["sample", "no/such/run", "--out", "x.jpg"], "must end in .png"),
    ],
)
def test_user_errors_print_one_line_and_exit_2(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err
    assert len(err.splitlines()) == 1


def test_existing_run_is_not_overwritten_without_resume(trained_run, capsys):
    assert main(["train", "configs/eight_gaussians/wgan-gp.toml", "--out", str(trained_run), *SMALL]) == 2
    assert "already holds a run; add --resume" in capsys.readouterr().err


def test_unknown_metric_is_refused(trained_run):
    from wganlab.training.quality import evaluate_run

    with pytest.raises(ConfigError, match="unknown toy metric fid"):
        evaluate_run(trained_run, metrics=["fid"], n=100, seed=0, device=__import__("torch").device("cpu"))


def test_version(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == "wganlab 0.1.0"


def test_help_imports_no_torch():
    # torch takes seconds to import on a loaded machine; --help (and a mistyped command) must not wait for it.
    code = (
        "import sys\nfrom wganlab.cli import main\n"
        "for argv in (['--help'], ['train', '--help'], ['eval', '--help']):\n"
        "    try:\n        main(argv)\n    except SystemExit:\n        pass\n"
        "print('torch' in sys.modules, 'numpy' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.splitlines()[-1] == "False False"


def test_train_help_shows_each_keys_type_and_default(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = capsys.readouterr().out
    assert "train.steps (int, default 2000): Generator updates to train for" in text
    assert "model.generator_widths (ints, default 512,512,512):" in text
    assert "optim.betas (2 floats, default 0.0,0.9):" in text
    assert 'data.path (str, default ""):' in text
    assert "log.tensorboard (bool, default true):" in text
    # The plug-ins' choices, read from their files (no torch: test_help_imports_no_torch).
    assert "Choices: gan, sngan, wgan, wgan-gp." in text and "Choices: hinge, standard, wasserstein." in text
    assert "Choices: clip, none, penalty, spectral." in text and "images array, cifar10, folder" in text


def test_sample_help_shows_defaults(capsys):
    with pytest.raises(SystemExit):
        main(["sample", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--n INT how many samples (default: 64)" in text
    assert "--checkpoint CHECKPOINT latest, best" in text and "(default: latest)" in text


def test_overrides_written_as_options_are_accepted(capsys):
    assert main(["train", "eight_gaussians/wgan", "--train.steps=7", "--dry-run", "objective.clip_value=0.02"]) == 0
    printed = capsys.readouterr().out
    assert "steps = 7" in printed and "clip_value = 0.02" in printed


def test_an_option_override_without_its_value_says_how_to_write_it(capsys):
    assert main(["train", "eight_gaussians/wgan", "--train.steps", "50"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "wganlab train: error: --train.steps needs its value after '=': write --train.steps=VALUE " \
        "(or train.steps=VALUE)"  # fmt: skip


def test_sample_and_eval_use_a_chosen_checkpoint(trained_run, tmp_path):
    # trained_run evaluated at steps 2 and 4, so best.pt holds one of them; eval-best.json names its step.
    best_step = torch.load(trained_run / "checkpoints" / "best.pt", weights_only=True)["step"]
    assert main(["eval", str(trained_run), "--n", "200", "--checkpoint", "best", "--metrics", "w1"]) == 0
    assert json.loads((trained_run / "eval-best.json").read_text())["step"] == best_step
    assert main(["sample", str(trained_run), "--n", "20", "--checkpoint", "4", "--out", str(tmp_path / "b.npy")]) == 0
    assert main(["sample", str(trained_run), "--n", "20", "--out", str(tmp_path / "l.npy")]) == 0
    assert np.array_equal(np.load(tmp_path / "b.npy"), np.load(tmp_path / "l.npy"))  # step 4 is the latest
    assert main(["sample", str(trained_run), "--checkpoint", "3", "--out", str(tmp_path / "x.npy")]) == 2


def test_run_folder_has_log_txt_and_full_provenance(trained_run):
    log = (trained_run / "log.txt").read_text().splitlines()
    assert log[0].split("  ", 1)[1] == f"$ {' '.join(sys.argv)}"  # the command (here: pytest's, main() runs inside)
    # log.log_every is 50: the only training record is the last step's; evaluations every 2 steps.
    assert [line.split("  ", 1)[1].split(":")[0] for line in log[1:]] == ["step 2 eval", "step 4 train", "step 4 eval"]
    facts = json.loads((trained_run / "run.json").read_text())
    assert {"torch", "numpy", "scipy", "POT"} <= set(facts["versions"])
    assert facts["versions"]["numpy"] == np.__version__
    expected = {"cuda", "cudnn", "host", "cpu", "started", "threads", "interop_threads", "thread_env", "git_dirty"}
    assert expected <= set(facts)
    assert facts["threads"] == torch.get_num_threads()


def test_train_without_a_config_names_only_what_is_missing(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["train"])
    assert stop.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "wganlab train: error: the following arguments are required: config"
    )


def test_every_preset_is_described_in_whole_sentences(capsys, tmp_path):
    from wganlab.cli import preset_description
    from wganlab.config import presets

    assert main(["presets"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert len(listed) == len(presets())
    for line, (name, path) in zip(listed, presets().items(), strict=True):
        description = preset_description(path)
        assert line.split()[0] == name and line.endswith(description)
        assert description.endswith((".", ")")), (name, description)
        assert "wganlab train" not in description
    # By hand: sentences are kept whole while they fit; a sentence that would pass the width ends the description.
    preset = tmp_path / "p.toml"
    preset.write_text(
        "# One. Two et al. 2017 is one sentence.\n# Three is long enough to pass.\n#\n# Later.\nname = 'x'\n"
    )
    assert preset_description(preset, width=80) == "One. Two et al. 2017 is one sentence. Three is long enough to pass."
    assert preset_description(preset, width=40) == "One. Two et al. 2017 is one sentence."
    assert preset_description(preset, width=3) == "One."


def test_resume_into_a_folder_that_does_not_exist_is_refused(tmp_path, capsys):
    missing = tmp_path / "typo"
    argv = ["train", "configs/eight_gaussians/gan.toml", "--out", str(missing), "--resume", "train.steps=2", *SMALL]
    assert main(argv) == 2
    assert capsys.readouterr().err.strip() == (
        f"wganlab train: error: --resume: {missing} does not exist; give the run's folder (or leave out --resume)"
    )
    assert not missing.exists()


def test_an_interrupt_met_inside_a_string_exec_still_exits_130(tmp_path):
    # A Ctrl-C that lands while a dataclass is being built (exec of a string) sets CPython's "unhandled
    # KeyboardInterrupt" flag; under `python -m` that flag turned the handled interrupt's exit 130 into death by
    # SIGINT (returncode -2), now and then, in the reliability campaign. entry() is what `python -m wganlab` runs.
    (tmp_path / "interrupted_main.py").write_text(
        "import wganlab.cli as cli\n"
        "def main():\n"
        "    try:\n"
        "        exec('raise KeyboardInterrupt')\n"
        "    except KeyboardInterrupt:\n"
        "        return cli.EXIT_INTERRUPTED\n"
        "cli.main = main\n"
        "cli.entry()\n"
    )
    done = subprocess.run([sys.executable, "-m", "interrupted_main"], cwd=tmp_path, capture_output=True, timeout=60)
    assert done.returncode == 130, done.stderr.decode()[-2000:]


def test_a_line_on_stderr_is_one_write(monkeypatch):
    # Under torchrun every process writes to one stderr: a line and its newline written apart ran two processes'
    # refusals together into one line.
    from wganlab.errors import say

    writes = []
    monkeypatch.setattr(sys, "stderr", type("Recorder", (), {"write": writes.append, "flush": lambda self: None})())
    say("wganlab train: error: one line")
    assert writes == ["wganlab train: error: one line\n"]
