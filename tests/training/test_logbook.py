import json

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
