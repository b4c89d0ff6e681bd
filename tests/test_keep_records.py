"""scripts/keep_records.py: a finished run's record holds what its report reads and nothing that names this
machine or weighs megabytes; a second pass adds only new runs and says which kept records differ."""

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("keep_records", ROOT / "scripts" / "keep_records.py")
keep_records = importlib.util.module_from_spec(spec)
spec.loader.exec_module(keep_records)


def make_run(folder: Path, finished: bool = True, status: str = "finished") -> Path:
    (folder / "checkpoints").mkdir(parents=True)
    (folder / "samples").mkdir()
    for name in ("config.toml", "run.json", "metrics.jsonl", "timing.jsonl", "final-measures.json", "command.txt",
                 "console.txt", "log.txt", ".lock", "events.out.tfevents.1.host.1.0"):  # fmt: skip
        (folder / name).write_text(name)
    (folder / "checkpoints" / "latest.pt").write_bytes(b"weights")
    for step in (750, 1500, 3000):
        (folder / "samples" / f"step-{step:08d}.png").write_bytes(b"png %d" % step)
    (folder / "samples" / "reals.png").write_bytes(b"reals")
    if finished:
        (folder / "outcome.json").write_text(json.dumps({"status": status, "step": 3000}))
    return folder


def files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


def test_a_finished_run_is_kept_without_weights_or_machine_paths(tmp_path, capsys):
    pool, records = tmp_path / "pool", tmp_path / "records"
    make_run(pool / "dcgan-none/gan/seed-0")
    make_run(pool / "dcgan-none/gan/seed-1", finished=False)  # still training: not a record yet
    assert keep_records.main([str(pool), str(records), "--last-picture"]) == 0
    assert files(records) == {
        f"dcgan-none/gan/seed-0/{name}"
        for name in (
            "config.toml",
            "run.json",
            "metrics.jsonl",
            "timing.jsonl",
            "final-measures.json",
            "outcome.json",
            "samples/step-00003000.png",
        )  # fmt: skip
    }
    assert "1 run(s) added" in capsys.readouterr().out
    # Without --last-picture every sample picture stays (reals.png never does).
    keep_records.main([str(pool), str(tmp_path / "all")])
    assert {p for p in files(tmp_path / "all") if "/samples/" in p} == {
        f"dcgan-none/gan/seed-0/samples/step-{step:08d}.png" for step in (750, 1500, 3000)
    }


def test_a_second_pass_adds_new_runs_and_keeps_the_old_records_as_they_are(tmp_path, capsys):
    pool, records = tmp_path / "pool", tmp_path / "records"
    make_run(pool / "a/gan/seed-0")
    keep_records.main([str(pool), str(records)])
    before = (records / "a/gan/seed-0/metrics.jsonl").stat().st_mtime_ns
    make_run(pool / "a/gan/seed-1")
    (pool / "a/gan/seed-0/outcome.json").write_text(json.dumps({"status": "diverged", "step": 10}))  # run again
    capsys.readouterr()
    keep_records.main([str(pool), str(records)])
    printed = capsys.readouterr().out
    assert "1 run(s) added" in printed and "1 existing record(s) differ" in printed
    assert "kept as it was: " in printed and "a/gan/seed-0" in printed
    assert json.loads((records / "a/gan/seed-0/outcome.json").read_text())["status"] == "finished"
    assert (records / "a/gan/seed-0/metrics.jsonl").stat().st_mtime_ns == before
    assert (records / "a/gan/seed-1/outcome.json").exists()


def test_a_pool_that_is_not_a_folder_is_one_line(tmp_path, capsys):
    assert keep_records.main([str(tmp_path / "nope"), str(tmp_path / "records")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nope is not a folder" in err
