import json

import pytest

from wganlab.errors import CheckpointError
from wganlab.training.logbook import Logbook
from wganlab.training.run_folder import RunFolder


def test_progress_bar_keeps_the_latest_estimate_and_evaluation(tmp_path):
    book = Logbook(
        RunFolder(tmp_path),
        total_steps=10,
        start_step=0,
        enabled=True,
        progress=True,
        tensorboard=False,
        shown=("w_estimate", "w1"),
    )
    book.record(2, 64, "train", {"w_estimate": 0.25, "critic_loss": -0.2})
    book.record(2, 64, "eval", {"w1": 0.5})
    book.record(4, 128, "train", {"w_estimate": 0.125})
    assert "w_estimate=0.125" in book.bar.postfix and "w1=0.5" in book.bar.postfix
    assert "critic_loss" not in book.bar.postfix
    book.close()


def test_resume_drops_records_after_the_checkpoint_step(tmp_path):
    rows = [{"step": step, "kind": "train"} for step in (2, 4, 6)]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    Logbook(RunFolder(tmp_path), total_steps=10, start_step=4, enabled=True, progress=False, tensorboard=False)
    kept = [json.loads(line)["step"] for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert kept == [2, 4]
    assert not list(tmp_path.glob("*.tmp"))


def book_at(folder, step: int) -> Logbook:
    return Logbook(RunFolder(folder), total_steps=10, start_step=step, enabled=True, progress=False, tensorboard=False)


def test_resume_drops_a_torn_last_line_with_a_warning_and_cuts_the_file_in_place(tmp_path):
    whole = '{"step": 2, "kind": "train"}\n{"step": 4, "kind": "train"}\n'
    (tmp_path / "metrics.jsonl").write_text(whole + '{"step": 6, "ki')
    inode = (tmp_path / "metrics.jsonl").stat().st_ino
    with pytest.warns(UserWarning, match=r"metrics.jsonl: dropped a torn last line \(a crash mid-write\): "):
        book_at(tmp_path, 6)
    assert (tmp_path / "metrics.jsonl").read_text() == whole
    assert (tmp_path / "metrics.jsonl").stat().st_ino == inode  # cut, not rewritten: needs no free space


def test_a_last_record_missing_only_its_newline_is_kept_and_ended(tmp_path):
    (tmp_path / "metrics.jsonl").write_text('{"step": 2, "kind": "train"}\n{"step": 4, "kind": "train"}')
    book = book_at(tmp_path, 4)
    book.record(5, 80, "train", {"critic_loss": 0.5})
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in lines] == [2, 4, 5]


def test_a_damaged_line_before_the_last_stops_the_resume_in_one_line(tmp_path):
    (tmp_path / "metrics.jsonl").write_text('{"step": 2}\n{"step": 4\n{"step": 6}\n')
    with pytest.raises(CheckpointError, match=r"metrics.jsonl line 2 is not valid JSON; .*fix or remove that line"):
        book_at(tmp_path, 6)
    assert (tmp_path / "metrics.jsonl").read_text() == '{"step": 2}\n{"step": 4\n{"step": 6}\n'


def test_the_reader_warns_about_a_torn_last_line(tmp_path):
    (tmp_path / "metrics.jsonl").write_text('{"step": 2, "kind": "eval", "w1": 0.5}\n{"step": 4, "ki')
    with pytest.warns(UserWarning, match=r"left out a torn last line"):
        assert RunFolder(tmp_path).records("eval") == [{"step": 2, "kind": "eval", "w1": 0.5}]


def test_tensorboard_holds_pictures_config_hyperparameters_and_clipped_critic_histograms(tiny_config, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    from wganlab.training.loop import train

    config = tiny_config(
        "wgan", "train.steps=6", "log.log_every=2", "log.sample_every=3", "log.tensorboard=true",
        "log.eval_every=3", "log.eval_samples=100", "optim.critic_lr=0.05", "objective.clip_value=0.01",
    )  # fmt: skip
    train(config, tmp_path / "run", progress=False)
    events = EventAccumulator(str(tmp_path / "run"), size_guidance={"images": 0, "histograms": 0, "tensors": 0})
    events.Reload()
    # The sample pictures at every sample interval, the same files as samples/step-*.png.
    assert [event.step for event in events.Images("samples")] == [3, 6]
    png = (tmp_path / "run" / "samples" / "step-00000006.png").read_bytes()
    assert events.Images("samples")[1].encoded_image_string[:8] == png[:8] == b"\x89PNG\r\n\x1a\n"
    # The resolved config as text.
    text = events.Tensors("config/text_summary")[0].tensor_proto.string_val[0].decode()
    assert 'name = "wgan"' in text and "clip_value = 0.01" in text
    # Histograms of every critic parameter at every log interval; clipping keeps them inside [-c, c] and the
    # large learning rate presses the weights against the bounds.
    parameters = [name for name, _ in build_names(config)]
    assert sorted(tag for tag in events.Tags()["histograms"]) == sorted(f"critic/{name}" for name in parameters)
    weights = events.Histograms(f"critic/{parameters[0]}")
    assert [h.step for h in weights] == [2, 4, 6]
    assert all(-0.01 - 1e-7 <= h.histogram_value.min and h.histogram_value.max <= 0.01 + 1e-7 for h in weights)
    assert max(h.histogram_value.max for h in weights) > 0.0099
    # Hyperparameters with the final values of every logged key.
    content = events.PluginTagToContent("hparams")
    experiment = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/experiment"]).experiment
    assert {"train/critic_loss", "train/w_estimate", "eval/w1"} <= {m.name.tag for m in experiment.metric_infos}
    start = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"]).session_start_info
    assert start.hparams["objective.name"].string_value == "wgan"
    assert start.hparams["objective.clip_value"].number_value == 0.01
    assert start.hparams["model.critic_widths"].string_value == "32,32"


def build_names(config):
    from wganlab.training.distributed import DistContext
    from wganlab.training.state import build_state

    return build_state(config, DistContext.local(), progress=False).critic.network.named_parameters()


def test_log_txt_holds_console_output_warnings_records_and_how_the_run_stopped(tiny_config, tmp_path, monkeypatch):
    import sys
    import warnings

    import pytest

    from wganlab.training import loop

    original = loop.train_step

    def step_with_output(s):
        original(s)
        if s.step == 2:
            print("a line on stdout")
            warnings.warn("a warning during training", UserWarning, stacklevel=1)
            sys.stderr.write("progress 10%\rprogress 50%\rprogress done\n")
        if s.step == 3:
            raise RuntimeError("boom")

    monkeypatch.setattr(loop, "train_step", step_with_output)
    with pytest.raises(RuntimeError, match="boom"), pytest.warns(UserWarning, match="a warning during training"):
        loop.train(tiny_config("gan", "train.steps=5", "log.log_every=1"), tmp_path / "run", progress=False)
    lines = [line.split("  ", 1)[1] for line in (tmp_path / "run" / "log.txt").read_text().splitlines()]
    assert lines[0].startswith("$ ")
    assert lines[1].startswith("step 1 train: critic_loss=")
    assert lines.index("a line on stdout") < lines.index(next(line for line in lines if line.startswith("step 2 tra")))
    assert [line for line in lines if "a warning during training" in line] == [
        f"{__file__}:{step_with_output.__code__.co_firstlineno + 4}: UserWarning: a warning during training"
    ]  # once, though pytest.warns records it instead of printing it
    assert "progress done" in lines and not any("10%" in line for line in lines)  # a redrawn line: its last state
    assert lines[-1] == "stopped: RuntimeError: boom"
