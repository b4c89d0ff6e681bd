import json

import pytest
from PIL import Image

from wganlab.demo import run_demo
from wganlab.errors import ConfigError
from wganlab.studies.common.runner import StudyError


@pytest.mark.slow  # long: the slow tier (CI runs it) keeps it
def test_demo_trains_all_three_objectives_and_reports_their_measured_numbers(tmp_path):
    report = run_demo(tmp_path, steps=4)
    text = report.read_text()
    rows = [line for line in text.splitlines() if line.startswith("| gan") or line.startswith("| wgan")]
    assert [row.split("|")[1].strip() for row in rows] == ["gan", "wgan", "wgan-gp"]
    for objective, row in zip(("gan", "wgan", "wgan-gp"), rows, strict=True):
        evals = [json.loads(line) for line in (tmp_path / objective / "metrics.jsonl").read_text().splitlines()]
        final_w1 = [r["w1"] for r in evals if r["kind"] == "eval"][-1]
        assert row.split("|")[2].strip() == f"{final_w1:.3f}"  # the table shows what the run measured
    width, height = Image.open(tmp_path / "demo.png").size
    assert width > 1000 and height > 500
    # A second demo in the same folder reuses the finished runs: nothing is wiped or retrained.
    before = {p: p.stat().st_mtime_ns for p in tmp_path.glob("*/checkpoints/*.pt")}
    run_demo(tmp_path, steps=4)
    assert {p: p.stat().st_mtime_ns for p in tmp_path.glob("*/checkpoints/*.pt")} == before
    # Other settings in the same folder are refused, never overwritten.
    with pytest.raises(StudyError, match="holds a run with other settings"):
        run_demo(tmp_path, steps=6)
    assert {p: p.stat().st_mtime_ns for p in tmp_path.glob("*/checkpoints/*.pt")} == before


@pytest.mark.parametrize("steps", [0, -5])
def test_demo_refuses_steps_below_one_before_doing_anything(tmp_path, steps):
    with pytest.raises(ConfigError, match=f"--steps {steps} must be at least 1"):
        run_demo(tmp_path / "demo", steps=steps)
    assert not (tmp_path / "demo").exists()
