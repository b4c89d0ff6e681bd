"""benchmarks/bench_penalty.py --check: the penalty written with torch.func gives the library's parameter gradients
(float64, the same eps from the same generator state), so the benchmark compares the same computation."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_func_penalty_gives_the_librarys_gradients_in_float64():
    done = subprocess.run(
        [sys.executable, "benchmarks/bench_penalty.py", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    rows = {m[0]: m for m in re.findall(r"^\| fp64 \| (\S+) \| ([\d.]+) \| [^|]+ \| ([\d.e+-]+) \|", done.stdout, re.M)}
    assert set(rows) == {"autograd", "func"}
    # Both take the same double backward through the same operators; only the summation order of the gradients'
    # accumulation may differ: float64 rounding (2^-53 per operation) over at most a few thousand terms per entry.
    assert float(rows["func"][2]) <= 1e-12
    assert float(rows["autograd"][2]) == 0.0  # the reference against itself
