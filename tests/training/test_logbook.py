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
