"""SIGKILL at every stage of every file a run writes, at random moments, and during a resume's repair; an ENOSPC
at every write. Every killed run resumes, leaves no temp file, and ends bit for bit where an uninterrupted run
ends: networks, optimisers (best.pt too), metrics.jsonl, generator.safetensors, sample pictures, RNG streams.

The campaign runs in a process of its own (campaign.py), which starts a fresh `python -m wganlab` process for
every run (none forked from one parent), and compares the process-wide RNG states too."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}

# The issue's cases: killed mid-way through the first checkpoint (nothing complete: restart with a notice); after
# the first step file, before latest.pt (resume from the step file); after the last step file, before its
# generator.safetensors and latest.pt (rebuilt on resume); half of step 6's metrics line on disk, after the
# checkpoint at 4 (dropped with a warning; the record is written again from the loss sums the checkpoint holds).
QUICK_KILLS = [
    "torn:checkpoints/step-00000004.pt",
    "replaced:checkpoints/step-00000004.pt",
    "replaced:checkpoints/step-00000008.pt",
    "append-torn:metrics.jsonl#3",
]


def campaign(tmp_path: Path, *options: str) -> dict:
    out = tmp_path / "results.json"
    command = [sys.executable, str(HERE / "campaign.py"), "--out", str(tmp_path / "c"), "--json", str(out), *options]
    done = subprocess.run(command, env=ENV, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(out.read_text())


def check(summary: dict) -> None:
    killed = summary["killed_trials"]
    assert summary["resumed"] == summary["clean"] == summary["all_bitwise"] == killed
    assert summary["bitwise"] == dict.fromkeys(summary["bitwise"], killed)


@pytest.mark.slow  # long: the slow tier (CI runs it) keeps it
def test_kills_at_the_issues_points_resume_bitwise(tmp_path):
    results = campaign(
        tmp_path, "--events", ",".join(QUICK_KILLS), "--chains", "1", "--random", "0", "--writers", "--signals",
        "--disk-full-at", "append-torn:metrics.jsonl,torn:checkpoints/step-00000008.pt",
    )  # fmt: skip
    check(results["kills"])
    assert results["kills"]["kills"] == len(QUICK_KILLS) + 2  # the chain kills its resume too
    disk = results["disk_full"]
    assert disk["tried"] == disk["one_line_exit_2"] == disk["resumed"] == disk["all_bitwise"] == 2
    said = {t["name"].split(" (")[1].split(")")[0]: t["messages"] for t in results["trials"] if t["kills"] == 1}
    run = str(tmp_path / "c")
    assert said["torn checkpoints/step-00000004.pt"] == [
        f"wganlab train: warning: {run}/kill-{index(results, 'torn', 'step-00000004.pt')}-/run holds no complete "
        "checkpoint; starting the run from step 0"
    ]
    assert said["replaced checkpoints/step-00000004.pt"] == [
        "wganlab train: warning: rebuilt generator.safetensors and latest.pt from step-00000004.pt"
    ]
    assert said["replaced checkpoints/step-00000008.pt"] == [
        "wganlab train: warning: rebuilt generator.safetensors and latest.pt from step-00000008.pt"
    ]
    [torn] = said["append-torn metrics.jsonl"]
    assert torn.startswith(f"wganlab train: warning: {run}/kill-") and "metrics.jsonl: dropped a torn last line" in torn

    check_writers(results["writers"], tmp_path / "c")
    check_signals(results["signals"], tmp_path / "c")


def check_writers(writers: dict, root: Path) -> None:
    refusal = (
        f"wganlab train: error: {root}/writers/run is being written by wganlab pid {writers['holder_pid']} on "
        f"{os.uname().nodename}; wait for it to finish, or choose another --out"
    )
    assert writers["second"] == ["exit", 2, [refusal]]
    assert writers["resumer"] == ["exit", 2, [refusal]]
    assert writers["first"] == ["exit", 0]
    assert writers["clean"] and all(writers["bitwise"].values())
    # Started together: one trains, the other is refused by the lock (or, if it comes after the end, told that
    # the folder holds a run); either way in one line, and the run is the uninterrupted one.
    outcomes = sorted(writers["race"], key=lambda r: r[1])
    assert outcomes[0][:2] == ["exit", 0] and outcomes[1][:2] == ["exit", 2]
    assert len(outcomes[1][2]) == 1 and (
        " is being written by " in outcomes[1][2][0] or "add --resume" in outcomes[1][2][0]
    )
    assert writers["race_clean"] and all(writers["race_bitwise"].values())


def check_signals(signals: list[dict], root: Path) -> None:
    folders = ["sigterm-in-a-write", "sigint-in-an-append", "sigterm-random", "sigint-random"]
    for number, (trial, folder) in enumerate(zip(signals, folders, strict=True)):
        what = "stopped by SIGTERM" if "SIGTERM" in trial["name"] else "interrupted"
        [line] = trial["messages"]
        if number < 2:  # stopped in the middle of step 8's checkpoint, and of step 6's record
            assert line == (
                f"wganlab train: {what}; the last checkpoint (step 4) is intact; resume with: wganlab train "
                f"{root}/{folder}/run/config.toml --out {root}/{folder}/run --resume"
            )
        else:  # at a random moment: perhaps before the first checkpoint, or before config.toml
            assert line.startswith(f"wganlab train: {what}; ") and line.endswith(f" --out {root}/{folder}/run --resume")
        assert trial["resumed"] and trial["clean"] and all(trial["bitwise"].values()), trial  # that command worked


def index(results: dict, op: str, name: str) -> int:
    return next(t["name"] for t in results["trials"] if f"({op} checkpoints/{name})" in t["name"]).split()[3]


@pytest.mark.slow
@pytest.mark.long  # 41 min on 2 AVX2 cores: outside CI's 90 minutes; the issue-points campaign above stays in CI
def test_every_injection_point_random_moments_and_a_full_disk(tmp_path):
    results = campaign(tmp_path, "--random", "10", "--chains", "4", "--disk-full")
    kills = results["kills"]
    assert kills["kills"] >= 100
    check(kills)
    disk = results["disk_full"]
    assert disk["tried"] >= 30
    assert disk["one_line_exit_2"] == disk["resumed"] == disk["clean"] == disk["all_bitwise"] == disk["tried"]
