"""benchmarks/gpu_check.sh --dry-run: every part of the GPU check at a tiny size on the CPU, so its logic (the
parts, their timeouts, the clean SIGTERM stop, packing and scoring the samples, the summary) is tested here."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
REFERENCE_LOOPS = ROOT.parent / "shared" / "bench"


@pytest.mark.skipif(not FASHION_MNIST.is_dir(), reason="needs Debian's dataset-fashion-mnist")
@pytest.mark.skipif(
    not (REFERENCE_LOOPS / "ref_toy_wgangp.py").is_file() and not (ROOT / ".carry" / "bench").is_dir(),
    reason="needs the reference loops (../shared/bench or .carry/bench)",
)
@pytest.mark.slow  # about a minute on 2 cores: the default tier stays within its 3 minutes
def test_dry_run_runs_every_part_and_ends_with_the_summary(tmp_path):
    env = {**os.environ, "OUT": str(tmp_path / "out"), "PYTHON": sys.executable, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        ["bash", "benchmarks/gpu_check.sh", "--dry-run"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    lines = done.stdout.strip().splitlines()
    summary = lines[lines.index("== summary (dry, device cpu)") :]
    assert summary[1] == "| part | budget s | took s | result |"
    rows = [line for line in summary if line.startswith("| (")]
    assert [row.split(" | ")[0][2:5] for row in rows] == ["(a)", "(b)", "(c)", "(d)", "(d)"]
    assert all(row.split(" | ")[-1].startswith("pass") for row in rows), rows
    assert lines[-1].startswith("total: ")
    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == [
        "gpu_check.log",
        "run_config.toml",
        "run_grid.png",
        "run_metrics.jsonl",
        "samples.npz",
    ]
    assert (out / "gpu_check.log").read_text().strip().splitlines()[-1] == lines[-1]


def test_an_unknown_option_is_a_usage_error():
    done = subprocess.run(["bash", "benchmarks/gpu_check.sh", "--bogus"], cwd=ROOT, capture_output=True, text=True)
    assert (done.returncode, done.stderr.strip()) == (2, "usage: bash benchmarks/gpu_check.sh [--prepare | --dry-run]")
