"""The precision study (issue 33): its runs pair the recipe cells with their fast-path twins, and its verdicts follow
the definition (the bf16 mean within the fp32 seeds' range)."""

import dataclasses
import math

from wganlab.studies import precision
from wganlab.studies.common import images
from wganlab.studies.common.report import read_csv


def test_the_fp32_runs_are_the_recipe_cells_and_the_bf16_runs_differ_only_in_precision():
    plan = precision.plan("default", None)
    recipe = images.cell_runs([images.Cell("dcgan-bn", "none", o) for o in images.OBJECTIVES],
                              images.size_settings("default", None, None))  # fmt: skip
    assert plan.runs_dir == "../image-runs" and len(plan.runs) == 18
    by_key = {run.key: run for run in plan.runs}
    for base in recipe:
        assert by_key[base.key].overrides == base.overrides  # shared with loss-vs-quality: the same folders
        objective = base.key.split("/")[1]
        twin = by_key[base.key.replace(f"/{objective}/", f"/{objective}-bf16-cl/")]
        assert set(twin.overrides) - set(base.overrides) == {"train.precision=bf16", "train.channels_last=true"}
        assert (twin.config().train.precision, twin.config().train.channels_last) == ("bf16", True)
        assert (base.config().train.precision, base.config().train.channels_last) == ("fp32", False)


def test_parity_is_the_fast_mean_within_the_fp32_range():
    assert precision.parity([10.0, 12.0, 14.0], [13.9, 14.0, 14.0]) == "holds"  # mean 13.97 <= 14
    assert precision.parity([10.0, 12.0, 14.0], [14.0, 14.0, 14.3]) == "fails (higher)"  # mean 14.1 > 14
    assert precision.parity([10.0, 12.0, 14.0], [10.0, 10.0, 10.0]) == "holds"  # the range is closed
    assert precision.parity([10.0, 12.0, 14.0], [9.0, 9.5, 9.9]) == "fails (lower)"  # below every fp32 seed
    assert precision.parity([math.nan] * 3, [1.0, 2.0, 3.0]) == "n/a"
    assert precision.paired([1.0, 2.0, 3.0], [2.0, 2.0, 5.0]) == precision.mean_std([1.0, 0.0, 2.0])


def test_quick_study_reports_parity_per_objective(tmp_path, in_process):
    plan = precision.plan("quick", 1)
    plan.runs = [run for run in plan.runs if "/gan" in run.key]  # the GAN pair: the cheapest
    kept = [tuple(o for o in run.overrides if not o.startswith("log.final_")) for run in plan.runs]
    plan.runs = [dataclasses.replace(run, overrides=o) for run, o in zip(plan.runs, kept, strict=True)]
    study_dir = tmp_path / "precision-quick"
    in_process(plan, study_dir)
    section = precision.collect(plan, study_dir)
    rows = read_csv(study_dir / "parity.csv")
    gan = [r for r in rows if r["objective"] == "GAN"]
    assert [r["measure"] for r in gan] == ["FD (F-MNIST classifier)", "FID"]
    assert (
        gan[0]["parity"] in ("holds", "fails (lower)", "fails (higher)") and gan[1]["parity"] == "n/a"
    )  # no final FID in this run
    assert section.findings[0].startswith("Parity (the bf16 + channels-last mean within the fp32 seeds' range")
    assert all((study_dir / f"{f.path}.png").stat().st_size > 10_000 for f in section.figures)


def test_new_pools_train_gan_and_wgan_gp_on_the_fast_path_and_the_committed_pools_in_fp32(isolated_user_cache):
    from wganlab.studies import augment, colour, ema, loss_vs_quality, mode_collapse, random_architectures

    def layouts(plan):
        """{objective: {(precision, channels_last)}} of the plan's runs."""
        found: dict[str, set] = {}
        for run in plan.runs:
            train = run.config().train
            found.setdefault(run.config().objective.name, set()).add((train.precision, train.channels_last))
        return found

    fp32, fast = {("fp32", False)}, {("bf16", True)}
    parity = {"gan": fast, "wgan": fp32, "wgan-gp": fast}  # the precision study: parity for GAN and WGAN-GP only
    assert layouts(loss_vs_quality.plan("default", 1)) == dict.fromkeys(parity, fp32)  # the committed pool's setting
    assert layouts(loss_vs_quality.plan("quick", 1)) == dict.fromkeys(parity, fp32)
    assert layouts(loss_vs_quality.plan("long", 1)) == parity
    assert layouts(loss_vs_quality.plan("paper", 1)) == parity
    assert layouts(loss_vs_quality.plan("default", 1, recipe="seed")) == parity
    assert layouts(ema.plan("default", 1)) == {"wgan-gp": fast}  # a new cell: the fast recipe cell's twin
    assert layouts(random_architectures.plan("long", 1)) == {"gan": fast, "wgan-gp": fast}
    assert layouts(random_architectures.plan("default", 1)) == {"gan": fp32, "wgan-gp": fp32}
    assert layouts(mode_collapse.plan("default", 1)) == {**parity, "sngan": fp32}
    assert layouts(colour.plan("default", 1)) == {"gan": fast, "wgan": fp32}
    assert layouts(augment.plan("default", 1)) == {"gan": fast, "wgan-gp": fast}
    for study in (mode_collapse, colour, augment):
        assert set().union(*layouts(study.plan("quick", 1)).values()) == fp32, study.NAME


def test_a_report_says_which_runs_trained_on_the_fast_path(isolated_user_cache):
    from wganlab.studies import loss_vs_quality
    from wganlab.studies.common.report import Section
    from wganlab.studies.common.study import name_precision

    section = Section(name="x", title="x", findings=[])
    name_precision(section, loss_vs_quality.plan("default", 1))
    assert section.setup == []  # all fp32: the committed reports stay as they are
    name_precision(section, loss_vs_quality.plan("long", 1))
    assert section.setup[0].startswith(
        "Runs trained in bf16 autocast with channels-last layout (GAN, WGAN-GP) and in fp32 (WGAN). New run pools"
    )
