"""`wganlab study NAME --collect --records DIR`: the committed reports rebuilt from the committed run records."""

import csv
import hashlib
import io
import json
import math
from pathlib import Path

import pytest

from wganlab.studies.common.runner import StudyError
from wganlab.studies.common.study import make_plan, run_study

ROOT = Path(__file__).resolve().parents[2]
RECORDS = ROOT / "docs" / "studies" / "records"
# The studies whose every run is in the records.
REBUILT = (
    "loss-vs-quality",
    "quality-vs-time",
    "clip-sweep",
    "random-architectures",
    "precision",
    "ema",
    "augment",
    "mode-collapse",
    "architecture-grid",
    "batchnorm",
    "n-critic",
)


def tree_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode() + path.read_bytes())
    return digest.hexdigest()


def without_header(text: str) -> list[str]:
    """A report without its provenance line (who collected it, when, on what machine, with which command)."""
    return [line for line in text.splitlines() if not line.startswith("<sub>wganlab ") and 'class="header"' not in line]


def csv_cells_differing(new: str, old: str) -> list[tuple[int, int, str, str]]:
    """(row, column, new, old) for each cell that differs beyond float64 rounding.

    A collect recomputes its numbers (correlations, means, fits) in float64 from the same records, and numpy's
    vectorised sums add in an order that depends on the CPU (AVX2 or AVX-512 kernels): each sum of n terms is off
    by at most about n * 2^-53 relative, so for the few thousand values behind any one cell every number agrees to
    about 1e-12 on any CPU, while a changed record or computation moves it by far more. Text cells must be equal."""
    rows_new, rows_old = list(csv.reader(io.StringIO(new))), list(csv.reader(io.StringIO(old)))
    if len(rows_new) != len(rows_old):
        return [(len(rows_old), 0, f"{len(rows_new)} rows", f"{len(rows_old)} rows")]
    differing = []
    for r, (row_new, row_old) in enumerate(zip(rows_new, rows_old, strict=True)):
        if len(row_new) != len(row_old):
            differing.append((r, 0, ",".join(row_new), ",".join(row_old)))
            continue
        for c, (a, b) in enumerate(zip(row_new, row_old, strict=True)):
            if a == b:
                continue
            try:
                close = math.isclose(float(a), float(b), rel_tol=1e-12, abs_tol=1e-12)
            except ValueError:
                close = False
            if not close:
                differing.append((r, c, a, b))
    return differing


def json_values_differing(new: object, old: object, rel_tol: float, where: str = "") -> list[str]:
    """The paths at which two parsed JSON documents differ: numbers beyond rel_tol, anything else at all."""
    if isinstance(new, dict) and isinstance(old, dict):
        if new.keys() != old.keys():
            return [f"{where}: keys {sorted(new)} vs {sorted(old)}"]
        return [d for key in new for d in json_values_differing(new[key], old[key], rel_tol, f"{where}.{key}")]
    if isinstance(new, list) and isinstance(old, list):
        if len(new) != len(old):
            return [f"{where}: {len(new)} items vs {len(old)}"]
        return [
            d
            for i, (a, b) in enumerate(zip(new, old, strict=True))
            for d in json_values_differing(a, b, rel_tol, f"{where}[{i}]")
        ]
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (new, old))
    if numbers and math.isclose(new, old, rel_tol=rel_tol, abs_tol=0.0):
        return []
    return [] if new == old else [f"{where}: {new!r} vs {old!r}"]


# references.json holds FDs of real-data generators (class means, noise, ...) computed from the Fashion-MNIST
# classifier's float32 features of real images, which the CPU's kernels round: each feature is a float32 sum of a
# few hundred products (2^-24 relative per operation), so an FD built from them agrees across CPUs to about 1e-5
# relative at worst (measured: 6e-8 between an AVX2 and an AVX-512 host), while another classifier, data or
# definition moves it by far more than 1e-4.
FLOAT32_FEATURES = {"references.json": 1e-4}


def test_csv_cells_are_compared_to_float64_rounding_and_no_further():
    old = "name,value\nwgan-gp,0.3818123667260178\ngan,-0.01680844892303868\n"
    assert csv_cells_differing(old.replace("178", "179").replace("868", "8687"), old) == []  # last-digit rounding
    assert csv_cells_differing(old.replace("0.38181", "0.38182"), old) == [
        (1, 1, "0.3818223667260178", "0.3818123667260178")
    ]
    assert csv_cells_differing(old.replace("wgan-gp", "wgan"), old) == [(1, 0, "wgan", "wgan-gp")]
    assert csv_cells_differing(old + "wgan,1.0\n", old) == [(3, 0, "4 rows", "3 rows")]


def test_json_numbers_are_compared_within_the_stated_tolerance():
    old = {"class_means": 541.3027303592198, "fractions": [541.3, 270.65], "name": "fd", "count": 780}
    moved = {**old, "class_means": 541.3027626899336}  # an AVX2 host against an AVX-512 one
    assert json_values_differing(moved, old, 1e-4) == []
    assert json_values_differing(moved, old, 1e-12) == [".class_means: 541.3027626899336 vs 541.3027303592198"]
    assert json_values_differing({**old, "count": 781}, old, 1e-4) == [".count: 781 vs 780"]
    assert json_values_differing({**old, "fractions": [541.3]}, old, 1e-4) == [".fractions: 1 items vs 2"]
    assert json_values_differing({**old, "name": "fid"}, old, 1e-4) == [".name: 'fid' vs 'fd'"]


def test_a_plan_reads_its_runs_from_the_records_and_names_them_when_some_are_missing(tmp_path):
    plan = make_plan("loss-vs-quality", "default", None)
    plan.records = RECORDS
    run = plan.runs[0]
    assert plan.folder(tmp_path, run) == RECORDS / "image-runs" / run.key
    # Records holding only the runs n-critic shares with loss-vs-quality (n_critic 5): its other 18 are missing.
    some = tmp_path / "records"
    for objective in ("wgan", "wgan-gp"):
        (some / "image-runs" / "dcgan-bn-none").mkdir(parents=True, exist_ok=True)
        (some / "image-runs" / "dcgan-bn-none" / objective).symlink_to(
            RECORDS / "image-runs" / "dcgan-bn-none" / objective
        )
    with pytest.raises(StudyError, match=f"18 of 24 runs of n-critic are not finished in {some}"):
        run_study("n-critic", mode="collect", records=some, out=tmp_path / "n-critic")


def test_a_study_reads_the_checkouts_state_before_it_writes_its_own_outputs(tmp_path, monkeypatch):
    """Collecting into a committed folder changes tracked files; the report must still name the clean commit it
    was collected from, not call its own fresh output "uncommitted changes"."""
    from wganlab import provenance
    from wganlab.studies.common.report import git_commit

    written = tmp_path / "outputs-written"  # stands for the report files the collect writes into the checkout
    monkeypatch.setattr(provenance, "git_revision", lambda root: ("ab" * 20, written.exists()))
    provenance.source_revision.cache_clear()
    try:
        empty = tmp_path / "no-records"
        empty.mkdir()
        with pytest.raises(StudyError):  # no run is in these records: it stops after reading the checkout
            run_study("n-critic", mode="collect", records=empty, out=tmp_path / "n-critic")
        written.touch()
        assert git_commit() == "abababa"
        provenance.source_revision.cache_clear()
        assert git_commit() == "abababa with uncommitted changes"  # what it said before
    finally:
        provenance.source_revision.cache_clear()


@pytest.mark.slow  # about a minute per study (the FD references need the Fashion-MNIST classifier's features)
@pytest.mark.parametrize("name", REBUILT)
def test_the_committed_report_is_rebuilt_from_the_committed_records(tmp_path, name):
    before = tree_digest(RECORDS)
    out = tmp_path / name
    run_study(name, mode="collect", records=RECORDS, out=out)
    committed = ROOT / "docs" / "studies" / name
    files = sorted(p.relative_to(committed) for p in committed.rglob("*") if p.is_file())
    assert files and {p.relative_to(out) for p in out.rglob("*") if p.is_file()} >= set(files)
    for relative in files:
        if relative.name == "timing.json":  # how long this collect took
            continue
        if relative.suffix in (".md", ".html"):
            assert without_header((out / relative).read_text()) == without_header((committed / relative).read_text())
        elif relative.suffix == ".json":
            tolerance = FLOAT32_FEATURES.get(relative.name, 1e-12)
            new, old = (json.loads(path.read_text()) for path in (out / relative, committed / relative))
            assert json_values_differing(new, old, tolerance) == [], relative
        elif relative.suffix == ".csv":
            assert csv_cells_differing((out / relative).read_text(), (committed / relative).read_text()) == [], relative
        else:
            assert (out / relative).read_bytes() == (committed / relative).read_bytes(), relative
    assert tree_digest(RECORDS) == before  # the records are read, never written
