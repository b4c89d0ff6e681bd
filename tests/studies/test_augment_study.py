"""The DiffAugment study (issue 34): its runs pair each seed with and without the augmentation on Twemoji, and a
--quick run (from a tiny stand-in for the Twemoji wheel, as the colour study's test builds it) gives its report.
The quick run's FID needs the Inception file, so it is in the slow tier."""

import pytest

from wganlab.cli import main
from wganlab.metrics.features import default_inception_path
from wganlab.studies import augment
from wganlab.studies.common.report import read_csv


def test_every_seed_is_trained_with_and_without_the_papers_policy(isolated_user_cache):
    plan = augment.plan("default", None)
    assert len(plan.runs) == 12 and plan.runs_dir == "../augment-runs"
    by_key = {run.key: run for run in plan.runs}
    for objective, critic in (("gan", "batch"), ("wgan-gp", "none")):
        for seed in range(3):
            plain = by_key[f"dcgan-bn-{critic}/{objective}/seed-{seed}"]
            augmented = by_key[f"dcgan-bn-{critic}/{objective}-diffaugment/seed-{seed}"]
            assert set(augmented.overrides) - set(plain.overrides) == {"train.augment=color,translation,cutout"}
            config = plain.config()
            assert (config.data.source, config.data.channels, config.data.image_size) == ("folder", 3, 32)
            assert str(config.data.path).endswith("twemoji/images") and config.model.critic_norm == critic
            assert (config.train.steps, config.train.seed, config.train.augment) == (3000, seed, ())
            assert config.objective.name == objective and config.log.eval_metrics == ("fid",)
    paper = augment.plan("paper", None).runs[0].config()
    assert (paper.data.image_size, paper.model.channels, paper.train.steps) == (64, 64, 20_000)


@pytest.mark.slow
@pytest.mark.skipif(default_inception_path() is None, reason="no Inception feature file (wganlab setup-metrics)")
def test_quick_study_runs_end_to_end_from_the_cli(tiny_twemoji_wheel, tmp_path):
    out = tmp_path / "augment-quick"
    assert main(["study", "augment", "--quick", "--out", str(out), "--jobs", "2"]) in (0, None)
    runs = read_csv(out / "runs.csv")
    assert len(runs) == 4 and all(r["status"] == "finished" and float(r["fid"]) > 0 for r in runs)
    assert sorted(r["augment"] for r in runs) == ["color,translation,cutout"] * 2 + ["none"] * 2
    report = (out / "report.md").read_text()
    assert "DiffAugment" in report and "lower with it in" in report
    assert (out / "plots" / "fid.png").stat().st_size > 10_000
    assert (out / "plots" / "samples.png").stat().st_size > 10_000 and "plots/samples.png" in report
