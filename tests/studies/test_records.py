"""`wganlab study NAME --collect --records DIR`: the committed reports rebuilt from the committed run records."""

import hashlib
from pathlib import Path

import pytest

from wganlab.studies.common.runner import StudyError
from wganlab.studies.common.study import make_plan, run_study

ROOT = Path(__file__).resolve().parents[2]
RECORDS = ROOT / "docs" / "studies" / "records"
# The studies whose every run is in the records (n-critic and batchnorm are not yet: see
# docs/studies/records/README.md).
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
)


def tree_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode() + path.read_bytes())
    return digest.hexdigest()


def without_header(text: str) -> list[str]:
    """A report without its provenance line (who collected it, when, on what machine, with which command)."""
    return [line for line in text.splitlines() if not line.startswith("<sub>wganlab ") and 'class="header"' not in line]


def test_a_plan_reads_its_runs_from_the_records_and_names_them_when_some_are_missing(tmp_path):
    plan = make_plan("loss-vs-quality", "default", None)
    plan.records = RECORDS
    run = plan.runs[0]
    assert plan.folder(tmp_path, run) == RECORDS / "image-runs" / run.key
    with pytest.raises(StudyError, match=f"18 of 24 runs of n-critic are not finished in {RECORDS}"):
        run_study("n-critic", mode="collect", records=RECORDS, out=tmp_path / "n-critic")


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
        else:
            assert (out / relative).read_bytes() == (committed / relative).read_bytes(), relative
    assert tree_digest(RECORDS) == before  # the records are read, never written
