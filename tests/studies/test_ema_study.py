"""The EMA study (issue 34): its runs, and its report from a --quick run (the final Inception metrics left out,
as the other image-study tests leave them out; the slow tier runs the study with them)."""

import dataclasses

import pytest

from wganlab.metrics.features import default_inception_path
from wganlab.studies import ema
from wganlab.studies.common import images
from wganlab.studies.common.report import read_csv
from wganlab.training.run_folder import RunFolder


def test_the_ema_runs_are_the_fast_path_recipe_cell_with_an_ema():
    plan = ema.plan("default", None)
    fast = images.Cell("dcgan-bn", "none", "wgan-gp", "bf16-cl", images.FAST_PATH)  # the precision study's cell
    twins = images.cell_runs([fast], images.size_settings("default", None, None))
    assert plan.runs_dir == "../image-runs" and len(plan.runs) == 3
    for run, base in zip(plan.runs, twins, strict=True):
        assert run.key == base.key.replace("/wgan-gp-bf16-cl/", "/wgan-gp-ema-0.999/")
        assert set(run.overrides) - set(base.overrides) == {"train.ema_decay=0.999"}
        assert set(base.overrides) - set(run.overrides) == set()
        config = run.config()
        assert (config.train.steps, config.train.ema_decay, config.model.generator_norm) == (3000, 0.999, "batch")
        assert (config.train.precision, config.train.channels_last) == ("bf16", True)
        assert config.log.final_metrics == ("fid", "kid", "pr") and config.train.augment == ()


def quick_report(tmp_path, in_process, final: bool):
    plan = ema.plan("quick", 1)
    if not final:
        kept = [tuple(o for o in run.overrides if not o.startswith("log.final_")) for run in plan.runs]
        plan.runs = [dataclasses.replace(run, overrides=o) for run, o in zip(plan.runs, kept, strict=True)]
    study_dir = tmp_path / "ema-quick"
    in_process(plan, study_dir)
    return plan, study_dir, ema.collect(plan, study_dir)


@pytest.mark.slow  # 20 s: the quick study trains and evaluates; tests/training/test_ema.py checks the EMA itself
def test_quick_study_reports_both_generators(tmp_path, in_process):
    plan, study_dir, section = quick_report(tmp_path, in_process, final=False)
    folder = RunFolder(plan.folder(study_dir, plan.runs[0]))
    evals = folder.records("eval")
    assert [r["step"] for r in evals] == [10, 20] and all("fd_fmnist_ema" in r for r in evals)
    assert (folder.samples / "ema-step-00000020.png").is_file()
    assert section.tables[0].columns == ["measure", "raw", "EMA", "EMA − raw"]
    assert section.findings[0].startswith("At the last evaluation the EMA's FD (F-MNIST classifier) was")
    rows = read_csv(study_dir / "runs.csv")
    assert len(rows) == 1 and float(rows[0]["fd_fmnist_ema"]) > 0
    assert all((study_dir / f"{f.path}.png").stat().st_size > 10_000 for f in section.figures)
    assert "ema" in ema.summary(plan.runs[0], folder.path).lower()


@pytest.mark.slow  # the final FID/KID/PR of both generators: about a minute
@pytest.mark.skipif(default_inception_path() is None, reason="no Inception feature file (wganlab setup-metrics)")
def test_quick_study_with_final_metrics(tmp_path, in_process):
    _, _, section = quick_report(tmp_path, in_process, final=True)
    fid = next(row for row in section.tables[0].rows if row[0].startswith("FID"))
    assert fid[1] != "n/a" and fid[2] != "n/a"
