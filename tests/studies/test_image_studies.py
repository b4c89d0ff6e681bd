"""The image studies: one grid of cells shared by three studies, --data from a seed preset, and reports built
from tiny in-process runs (the quick size, without the final Inception metrics, which the slow tier covers)."""

import dataclasses
import json
import math
import shutil

import numpy as np
import pytest
import torch

import wganlab
from wganlab.errors import ConfigError
from wganlab.studies import (
    architecture_grid,
    batchnorm,
    clip_sweep,
    loss_vs_quality,
    n_critic,
    quality_vs_time,
)
from wganlab.studies.common import images
from wganlab.studies.common.report import read_csv
from wganlab.studies.common.runner import StudyError
from wganlab.studies.common.study import make_plan
from wganlab.training.run_folder import RunFolder
from wganlab.training.samples import to_pixels
from wganlab.training.state import make_rng


def without_final_metrics(plan):
    """The plan's runs without the TF-Inception metrics at the end (about 10 s each on a CPU)."""
    plan.runs = [dataclasses.replace(run, overrides=tuple(o for o in run.overrides if not o.startswith("log.final_")))
                 for run in plan.runs]  # fmt: skip
    return plan


def test_the_three_studies_share_identical_cells():
    plans = [module.plan("default", None) for module in (loss_vs_quality, batchnorm, architecture_grid)]
    runs = {run.key: run for plan in plans for run in plan.runs}
    assert {plan.runs_dir for plan in plans} == {"../image-runs"}
    for plan in plans:
        for run in plan.runs:
            assert runs[run.key] == run  # same key, same command: trained once for all three studies
    assert len(runs) == 13 * 3  # 9 grid cells + 2 GAN critics with batch norm + 2 WGAN-GP with layer norm
    config = runs["mlp-none/wgan-gp/seed-0"].config()
    assert (config.model.architecture, config.model.z_dim, config.train.steps, config.data.pad) == ("mlp", 128, 3000, 2)
    assert config.log.eval_metrics == ("fd_fmnist",) and config.log.final_metrics == ("fid", "kid", "pr")
    assert (config.objective.penalty_weight, config.optim.betas) == (10.0, (0.0, 0.9))  # WGAN-GP's own recipe


def test_image_studies_ii_reuse_the_recipe_cells_and_vary_one_setting():
    pool = {run.key: run for run in architecture_grid.plan("default", None).runs}
    for module, varied in ((n_critic, "objective.n_critic"), (clip_sweep, "objective.clip_value"),
                           (quality_vs_time, "optim.optimizer")):  # fmt: skip
        plan = module.plan("default", None)
        shared = [run for run in plan.runs if run.key in pool]
        assert shared and all(pool[run.key] == run for run in shared)
        for run in plan.runs:
            if run.key not in pool:
                assert run.label("variant") and any(o.startswith(varied) for o in run.overrides)
    one = n_critic.plan("default", 1).find(objective="wgan-gp", variant="ncritic-1")[0].config()
    assert one.objective.n_critic == 1 and one.optim.optimizer == "adam"
    rms = quality_vs_time.plan("default", 1).find(variant="rmsprop")[0].config()
    assert (rms.objective.constraint, rms.optim.optimizer, rms.optim.critic_lr) == ("penalty", "rmsprop", 5e-5)
    c = clip_sweep.plan("default", 1).find(variant="clip-0.1")[0].config()
    assert (c.objective.constraint, c.objective.clip_value) == ("clip", 0.1)


def test_data_from_a_seed_preset_and_refusals():
    plan = make_plan("architecture-grid", "paper", 1, "seeds/seed000-celeba-wgan")
    config = plan.runs[0].config()
    assert (config.data.source, config.data.path, config.data.image_size, config.data.channels) == (
        "folder",
        "celeba",
        64,
        3,
    )
    assert config.log.eval_metrics == ("fid",) and plan.runs_dir == "../image-runs-paper-seed000-celeba-wgan"
    assert config.train.epochs == 1000 and config.objective.n_critic == 1 and config.optim.critic_lr == 2e-4
    # How many steps 1000 epochs make depends on the user's data: the run spreads its evaluations over them.
    assert (config.log.evaluations, config.log.eval_every) == (images.PAPER_EVALUATIONS, 0)
    # The reports describe the runs as they are sized, not by the preset's unused train.steps.
    assert images.length_text(config) == "1000 epochs (passes of the critic over the training images)"
    assert images.evaluation_text(config) == f"at {images.PAPER_EVALUATIONS} evenly spaced steps"
    default = make_plan("architecture-grid", "default", 1).runs[0].config()
    assert images.length_text(default) == f"{default.train.steps:,} generator steps"
    assert images.evaluation_text(default) == f"every {default.log.eval_every:,} steps"
    long = make_plan("loss-vs-quality", "long", 1, recipe="seed").runs[0].config()
    assert images.length_text(long) == (
        "at most 50,000 generator steps, fewer where the plateau rule stopped a run (the best quality of its last "
        "quarter of evaluations no more than 3% better than its best before them, checked from evaluation 8 on)"
    )
    with pytest.raises(ConfigError, match="the image studies need image data"):
        make_plan("batchnorm", "default", 1, "eight_gaussians/gan")
    with pytest.raises(ConfigError, match="--data applies to the studies that take data"):
        make_plan("toy-training", "default", 1, "seeds/seed000-celeba-wgan")


def test_only_the_long_fashion_mnist_report_carries_the_measured_fd_noise():
    """The draw-to-draw noise of FD was measured on the long seed-recipe runs (benchmarks/results/eval_noise.md): the
    long report says it beside its evaluation sentence; the default report, whose runs it was not measured on, and
    a report on other data (FID, not FD) do not."""
    long = loss_vs_quality.setup_text(make_plan("loss-vs-quality", "long", 1, recipe="seed"))
    assert loss_vs_quality.NOISE_NOTE in long and "eval_noise.md" in loss_vs_quality.NOISE_NOTE
    assert long.index(loss_vs_quality.NOISE_NOTE) == next(i for i, t in enumerate(long) if "samples against" in t) + 1
    assert loss_vs_quality.NOISE_NOTE not in loss_vs_quality.setup_text(make_plan("loss-vs-quality", "default", 1))
    other = make_plan("loss-vs-quality", "long", 1, "seeds/seed000-celeba-wgan")
    assert loss_vs_quality.NOISE_NOTE not in loss_vs_quality.setup_text(other)


@pytest.mark.slow  # long: the slow tier (CI runs it) keeps it
def test_loss_vs_quality_from_tiny_runs(tmp_path, in_process):
    plan = without_final_metrics(loss_vs_quality.plan("quick", 1))
    study_dir = tmp_path / "loss-vs-quality-quick"
    in_process(plan, study_dir)
    evals = RunFolder(plan.folder(study_dir, plan.runs[0])).records("eval")
    assert [r["step"] for r in evals] == [10, 20] and "heldout_js_estimate" in evals[0]
    section = loss_vs_quality.collect(plan, study_dir)
    rows = read_csv(study_dir / "correlations.csv")
    assert [r["objective"] for r in rows] == ["gan", "wgan", "wgan-gp"] and rows[0]["points"] == "2"
    assert {f.path.name for f in section.figures} == {"loss_and_quality", "loss_vs_quality", "samples"}
    assert all((study_dir / f"{f.path}.png").stat().st_size > 10_000 for f in section.figures)
    assert section.tables[0].rows[0][-1] == "n/a"  # no final FID measured in this test


@pytest.mark.slow
def test_every_image_study_collects_from_tiny_runs(tmp_path, in_process):
    for module in (batchnorm, architecture_grid, n_critic, clip_sweep, quality_vs_time):
        plan = without_final_metrics(module.plan("quick", 1))
        in_process(plan, tmp_path / module.NAME)  # the shared folder: runs of the first study are reused
        section = module.collect(plan, tmp_path / module.NAME)
        assert len(section.tables[0].rows) == len(module.CELLS)
        if module in (n_critic, quality_vs_time):
            equal = "At equal training compute" if module is n_critic else "At equal training wall-clock"
            assert any(f.startswith(equal) for f in section.findings)
            assert section.tables[-1].columns[-1] == "lowest"
        if module is clip_sweep:  # 20 steps: every run is above the failure threshold
            assert any(f.startswith("Runs whose final") and f.endswith("c = 0.1 1 of 1.") for f in section.findings)
    references = read_csv(tmp_path / "batchnorm" / "runs.csv")
    assert all(r["failed"] in ("True", "False") for r in references)
    plan = architecture_grid.plan("quick", 1)
    for row in read_csv(tmp_path / "architecture-grid" / "runs.csv"):  # an epoch: the critic saw 60,000 images
        run = plan.find(generator=row["generator"], objective=row["objective"], seed=0)[0]
        seen = RunFolder(plan.folder(tmp_path / "architecture-grid", run)).records("train")[-1]["images_seen"]
        assert seen == 20 * (1 if row["objective"] == "gan" else 5) * 32  # quick: 20 generator steps, batch 32
        assert float(row["sec_per_epoch"]) == pytest.approx(float(row["train_seconds"]) * 60_000 / seen)


@pytest.mark.slow
def test_random_architectures_collects_from_tiny_runs(tmp_path, in_process):
    from wganlab.studies import random_architectures as study

    plan = study.plan("quick", 1)  # three architectures, 20 steps
    in_process(plan, tmp_path / study.NAME)
    section = study.collect(plan, tmp_path / study.NAME)
    rows = read_csv(tmp_path / study.NAME / "runs.csv")
    assert len(rows) == 6 and {r["objective"] for r in rows} == {"gan", "wgan-gp"}
    # 20 steps fail every level: the success table says so, and the findings name the failures per objective.
    assert [row[4] for row in section.tables[0].rows] == ["3", "3", "3"]  # neither objective, at each level
    # The three architectures share no choice (checked in the plan), so no group reaches the three runs needed.
    assert not any(len({getattr(a, c) for a in plan.settings["architectures"]}) == 1 for c in study.CHOICES)
    assert "GAN failed 3 of 3 runs (too few runs per choice to say which)." in section.findings
    assert all((tmp_path / study.NAME / f"{f.path}.png").stat().st_size > 10_000 for f in section.figures)


@pytest.mark.slow
def test_references_are_ordered_from_real_to_noise():
    references = images.fd_references({"fashion_mnist": True})
    bad = (references["class_means"], references["noise"], references["one_class"])
    assert references["real_vs_real"] < min(bad) and references["threshold"] == min(bad)
    assert references["levels"] == [min(bad), min(bad) / 2, min(bad) / 4]
    assert all(math.isfinite(v) for v in bad)


def test_random_architectures_plan_and_wilson_intervals():
    from wganlab.studies import random_architectures as study

    plan = study.plan("default", None)
    assert len(plan.runs) == 24 * 2 and plan.runs_dir == "../random-architectures-runs"
    gan, gp = (plan.find(architecture=3, objective=o)[0].config() for o in ("gan", "wgan-gp"))
    for key in ("generator_activation", "generator_depth", "generator_channels", "critic_channels", "critic_depth"):
        assert getattr(gan.model, key) == getattr(gp.model, key)  # one architecture, two objectives
    assert {gan.model.critic_norm, gp.model.critic_norm} <= {
        "none",
        "batch",
        "layer",
    } and gp.model.critic_norm != "batch"
    assert (gan.optim.critic_lr, gp.optim.critic_lr, gp.objective.n_critic) == (2e-4, 1e-4, 5)
    assert study.plan("default", None).runs == plan.runs  # the sampler is seeded
    # Wilson 95%: 0 of 10 -> [0, 0.278]; 5 of 10 -> [0.237, 0.763] (z = 1.96, by hand).
    low, high = study.wilson(0, 10)
    assert low == 0.0 and math.isclose(high, 0.2775, abs_tol=1e-3)
    low, high = study.wilson(5, 10)
    assert math.isclose(low, 0.2366, abs_tol=1e-3) and math.isclose(high, 0.7634, abs_tol=1e-3)
    with pytest.raises(ConfigError, match="not to random-architectures"):
        make_plan("random-architectures", "default", None, "seeds/seed000-celeba-wgan")


def test_random_architectures_success_table_counts_by_hand():
    from wganlab.studies import random_architectures as study

    plan = study.plan("quick", 1)  # three architectures
    fds = {(0, "gan"): 100.0, (0, "wgan-gp"): 200.0, (1, "gan"): 900.0, (1, "wgan-gp"): 250.0,
           (2, "gan"): math.inf, (2, "wgan-gp"): 800.0}  # fmt: skip
    levels = [541.0, 270.5, 135.25]
    rows = [{"architecture": a, "objective": o, **{f"success_{k}": fd < level for k, level in enumerate(levels)}}
            for (a, o), fd in fds.items()]  # fmt: skip
    table = study.success_table(plan, rows, levels)
    # < 541: GAN {0}, WGAN-GP {0, 1}: only GAN 0, only WGAN-GP 1, both 1, neither 1 (architecture 2).
    assert table[0][1:5] == ["0", "1", "1", "1"]
    # < 270.5: GAN {0}, WGAN-GP {0, 1}; < 135.25: GAN {0} only.
    assert table[1][1:5] == ["0", "1", "1", "1"] and table[2][1:5] == ["1", "0", "0", "2"]


def test_random_architectures_lists_every_architecture():
    from wganlab.studies import random_architectures as study

    plan = study.plan("quick", 1)  # three architectures
    ended = {(0, "gan"): ("finished", 100.0), (0, "wgan-gp"): ("finished", 600.0),
             (1, "gan"): ("diverged", math.inf), (1, "wgan-gp"): ("finished", 250.0),
             (2, "gan"): ("unknown", math.inf), (2, "wgan-gp"): ("finished", 900.0)}  # fmt: skip
    rows = [{"architecture": a, "objective": o, "seed": 0, "status": status, "fd_fmnist": fd, "success_0": fd < 541,
             "collapsed": (a, o) == (2, "wgan-gp")} for (a, o), (status, fd) in ended.items()]  # fmt: skip
    table = study.architecture_table(plan, rows)
    assert [line[0] for line in table] == ["0", "1", "2"]
    assert [line[3:] for line in table] == [["100", "600", "GAN"], ["diverged", "250", "WGAN-GP"],
                                            ["not run", "900 (one image)", "neither"]]  # fmt: skip
    first = plan.settings["architectures"][0]
    assert " / ".join(table[0][1:3]) == first.label and table[0][1].startswith(f"G {first.generator_activation} ")


def test_random_architectures_paired_comparison_by_hand():
    from wganlab.studies import random_architectures as study

    fds = {0: (400.0, 200.0), 1: (300.0, 600.0), 2: (math.inf, 900.0), 3: (500.0, 250.0), 4: (math.inf, math.inf)}
    rows = [{"architecture": a, "seed": 0, "objective": o, "fd_fmnist": fd}
            for a, pair in fds.items() for o, fd in zip(study.OBJECTIVES, pair, strict=True)]  # fmt: skip
    # Architecture 4 failed both ways and is left out. Ratios 0.5, 2.0, 0 (GAN did not finish), 0.5 -> sorted
    # 0, 0.5, 0.5, 2.0: median 0.5; WGAN-GP lower on 0, 2 and 3, higher on 1. Sign test, 3 against 1:
    # 2 * (C(4,0) + C(4,1)) / 2^4 = 10/16 = 0.625.
    assert study.paired_text(rows) == ("Architecture by architecture, WGAN-GP ended at a lower FD than the GAN on 3 "
                                       "of 4, higher on 1 (two-sided sign test over the 4 that differ: p = "
                                       f"{study.fmt(0.625, 2)}); the median ratio of their final FDs (WGAN-GP / GAN) "
                                       "is 0.5.")  # fmt: skip
    assert study.sign_test(3, 1) == 0.625 and study.sign_test(1, 3) == 0.625
    # 19 against 3: 2 * (1 + 22 + 231 + 1540) / 2^22; an even split and no pairs at all give 1.
    assert study.sign_test(19, 3) == 2 * 1794 / 2**22 and study.sign_test(5, 5) == 1.0 and study.sign_test(0, 0) == 1.0
    equal = rows + [{"architecture": 5, "seed": 0, "objective": o, "fd_fmnist": 700.0} for o in study.OBJECTIVES]
    assert "higher on 1, equal on 1 (two-sided sign test over the 4 that differ" in study.paired_text(equal)
    assert study.paired_text([]) == ""


def test_random_architectures_collapse_by_hand():
    from wganlab.studies import random_architectures as study

    # Classifier scores: GAN collapses on 0 and 1 (1.0, 1.05), WGAN-GP on 1 only; 1.2 and NaN (no score) do not count.
    scores = {(0, "gan"): 1.0, (0, "wgan-gp"): 1.2, (1, "gan"): 1.05, (1, "wgan-gp"): 1.0, (2, "gan"): math.nan,
              (2, "wgan-gp"): 4.0}  # fmt: skip
    rows = [{"architecture": a, "objective": o, "seed": 0, "collapsed": bool(cs < study.COLLAPSE_SCORE)}
            for (a, o), cs in scores.items()]  # fmt: skip
    assert [r["collapsed"] for r in rows] == [True, False, True, True, False, False]
    assert study.collapse_text(rows) == ("Runs whose samples collapsed to a single image (classifier score below "
                                         "1.1): GAN 2 of 3, WGAN-GP 1 of 3; on 1 architecture(s) both objectives "
                                         "did.")  # fmt: skip
    assert study.collapse_text([{**r, "collapsed": False} for r in rows]) == ""


def test_random_architectures_scatter_labels_share_nearby_points():
    from wganlab.studies import random_architectures as study

    # 7 and 18 coincide, 13 is 0.03 decades away on both axes (within 0.04): one label at their largest x and y.
    # 2 is 0.05 decades right of 11 (beyond 0.04): labels of its own.
    points = [(1465.0, 1465.0, 18), (1465.0, 1465.0, 7), (1465.0 * 10**0.03, 1465.0 * 10**0.03, 13),
              (465.0, 421.0, 11), (465.0 * 10**0.05, 421.0, 2)]  # fmt: skip
    groups = study.label_groups(points)
    assert [g[2] for g in groups] == ["2", "7, 13, 18", "11"]
    assert groups[1][:2] == pytest.approx((1465.0 * 10**0.03, 1465.0 * 10**0.03))


def test_random_architectures_factor_values_in_numeric_order():
    from wganlab.studies import random_architectures as study

    plan = study.plan("quick", 1)
    rows = [{"objective": o, "success_0": width != 16, "arch_generator_channels": width}
            for width in (32, 8, 16) for o in study.OBJECTIVES]  # fmt: skip
    assert study.factor_table(plan, rows) == [["generator channels", "8", "0/1", "0/1"],
                                              ["generator channels", "16", "1/1", "1/1"],
                                              ["generator channels", "32", "0/1", "0/1"]]  # fmt: skip


def test_random_architectures_failures_by_choice_by_hand():
    from wganlab.studies import random_architectures as study

    # Eight GAN runs: every tanh-generator run fails (4 of 4), one of the four ReLU ones does; depth is balanced.
    rows = [{"objective": "gan", "success_0": not (act == "tanh" or (act == "relu" and depth == 4 and k == 0)),
             "arch_generator_activation": act, "arch_generator_depth": depth}
            for act in ("tanh", "relu") for depth in (4, 6) for k in range(2)]  # fmt: skip
    rows.append({"objective": "wgan-gp", "success_0": True, "arch_generator_activation": "relu",
                 "arch_generator_depth": 4})  # fmt: skip
    text = study.failure_text(rows, "gan", top=2)
    # tanh 4/4, then depth 4 (3 of 4) ahead of depth 6 (2 of 4); ReLU (1 of 4) is not named.
    assert text == ("GAN failed 5 of 8 runs; most often with generator activation = tanh (4 of 4), generator depth "
                    "= 4 (3 of 4) (an association over few runs, not a controlled comparison).")  # fmt: skip
    assert study.failure_text(rows, "wgan-gp") == "WGAN-GP: no failures at the loosest level."


def test_quality_against_time_summaries_by_hand():
    cell = images.Cell("dcgan-bn", "none", "wgan-gp")
    other = images.Cell("dcgan-bn", "none", "wgan")

    def row(c, seed, step, seconds, fd):
        return {"generator": c.generator, "critic": c.critic, "objective": c.objective, "variant": c.variant,
                "seed": seed, "step": step, "train_seconds": seconds, "fd": fd}  # fmt: skip

    curves = [row(cell, 1, 20, 20.0, 300.0), row(cell, 0, 20, 10.0, 400.0), row(cell, 0, 10, 5.0, 900.0),
              row(cell, 1, 10, 10.0, 800.0), row(other, 0, 10, 1.0, 1.0)]  # fmt: skip
    runs = images.seed_curves(curves, cell)
    assert [[r["step"] for r in rows] for rows in runs] == [[10, 20], [10, 20]]  # seed 0, then seed 1; by step
    # At 10 s: seed 0 has its step-20 evaluation (at 10 s), seed 1 its step-10 one; before 5 s, nothing.
    assert images.quality_at_seconds(runs, "fd", 10.0) == [400.0, 800.0]
    assert all(math.isnan(v) for v in images.quality_at_seconds(runs, "fd", 4.9))
    assert images.seconds_to_reach(runs, "fd", 850.0) == [10.0, 10.0]
    assert images.seconds_to_reach(runs, "fd", 350.0) == [math.inf, 20.0]
    # Two evaluations each: std (ddof 1) over mean. Seed 0: 900, 400 -> 353.55 / 650; seed 1: 800, 300 -> / 550.
    spread = images.late_spread(runs, "fd", last=5)
    assert spread == pytest.approx([500 / math.sqrt(2) / 650, 500 / math.sqrt(2) / 550])
    assert all(math.isnan(v) for v in images.late_spread(runs, "fd", last=1))  # one value has no spread
    # A steady fall is all trend, no scatter: 10, 8, 6, 4, 2 has slope -2 per evaluation over a mean of 6.
    steady = [[{"fd": v} for v in (10.0, 8.0, 6.0, 4.0, 2.0)]]
    assert images.late_trend(steady, "fd") == (pytest.approx([-1 / 3]), pytest.approx([0.0], abs=1e-12))
    # 4, 2, 4: a flat line at 10/3, residuals 2/3, -4/3, 2/3: sqrt(24/9 / (3 - 2)) / (10/3) = sqrt(24) / 10.
    slopes, scatters = images.late_trend([[{"fd": v} for v in (9.0, 4.0, 2.0, 4.0)]], "fd", last=3)
    assert slopes == pytest.approx([0.0], abs=1e-12) and scatters == pytest.approx([math.sqrt(24) / 10])
    assert all(math.isnan(v) for v in images.late_trend(runs, "fd")[1])  # two values: no scatter about a line


def test_quality_against_time_says_how_long_each_setting_took_to_reach_the_gans_final_level():
    gan, gp, wgan, gp_rms = (
        quality_vs_time.CELLS[0],
        quality_vs_time.CELLS[2],
        quality_vs_time.CELLS[1],
        quality_vs_time.CELLS[3],
    )

    def curve(*points):
        return [{"train_seconds": t, "fd": v} for t, v in points]

    runs = {gan: [curve((10.0, 500.0), (20.0, 300.0)), curve((10.0, 400.0), (20.0, 500.0))],  # ends at 300, 500
            wgan: [curve((50.0, 900.0))],
            gp: [curve((30.0, 450.0), (60.0, 350.0), (90.0, 200.0)), curve((40.0, 399.0))],
            gp_rms: []}  # fmt: skip
    # The GAN's final mean is 400, after 20 s; its own runs first reached 400 at 20 s and 10 s, WGAN-GP's at 60 s
    # (350; 450 at 30 s is not yet) and 40 s (399): 50 ± 14.1.
    assert quality_vs_time.catch_up_text(runs, "fd") == (
        "Training time to first reach GAN (Adam)'s final mean (400, after 20 s): GAN (Adam) 15 ± 7.1 s, WGAN, "
        "clipping (RMSProp) not reached, WGAN-GP (Adam) 50 ± 14 s, WGAN-GP (RMSProp) not reached."
    )
    assert quality_vs_time.catch_up_text({**runs, gan: []}, "fd") == ""


def test_ranking_names_the_best_two_and_compares_the_gap_with_the_seed_spread():
    # means 2, 4, 10; stds (ddof 1) 1, 1, 0: the gap 2 is more than one standard deviation (1).
    text = images.ranking_text({"a": [10.0, 10.0], "b": [1.0, 2.0, 3.0], "c": [3.0, 4.0, 5.0]})
    assert text == "b (2), then c (4): a gap of 2, more than one standard deviation over seeds (1)"
    assert images.ranking_text({"a": [1.0, 5.0], "b": [4.0, 4.0]}).endswith("a gap of 1, less than one standard "
                                                                          "deviation over seeds (2.83)")  # fmt: skip
    assert images.ranking_text({"a": [1.0], "b": [4.0]}) == "a (1), then b (4)"  # one seed: no spread


def test_equal_time_rows_by_hand():
    a, b = images.Cell("dcgan-bn", "none", "wgan", "a"), images.Cell("dcgan-bn", "none", "wgan", "b")

    def row(c, seed, seconds, fd):
        return {"generator": c.generator, "critic": c.critic, "objective": c.objective, "variant": c.variant,
                "seed": seed, "step": int(seconds), "train_seconds": float(seconds), "fd": fd}  # fmt: skip

    def curves(b_start):
        return [row(a, 0, 1, 100.0), row(a, 0, 2, 50.0), row(a, 1, 1, 120.0), row(a, 1, 3, 40.0),
                row(b, 0, 1, b_start), row(b, 0, 4, 10.0), row(b, 1, 1, b_start + 4), row(b, 1, 4, 12.0)]  # fmt: skip

    # a ends at 2 s (its shorter run), b at 4 s. At 2 s: a has [50, 120] (mean 85, std 49.5), b [90, 94] (92):
    # a is lower by 7, within one std; at 4 s only b is left (no lowest).
    rows = images.equal_time_rows(curves(90.0), [a, b], "fd", lambda c: c.variant)
    assert rows == [["2", "85 ± 49", "92 ± 2.8", "a (within 1 std of the next)"], ["4", "ended", "11 ± 1.4", ""]]
    # b at [200, 204]: a leads by 117, more than 49.5.
    assert images.equal_time_rows(curves(200.0), [a, b], "fd", lambda c: c.variant)[0][-1] == "a"
    assert images.equal_time_text({"WGAN": rows, "": [["9", "1", "b"]]}, "FD", "table 2") == (
        "At equal training wall-clock (evaluations excluded), the lowest mean FD among the settings still training, "
        "at the time each setting's runs ended (table 2): WGAN a (within 1 std of the next) at 2 s; b at 9 s."
    )


def test_sample_grid_reads_the_runs_pictures_and_needs_no_weights(tmp_path):
    # The committed run records keep no checkpoints: the samples of a step are read from the run's own picture of
    # its fixed grid z, exactly the generator of that step (eval mode) on the first n of the grid's z, quantised.
    np.save(tmp_path / "set.npy", np.random.default_rng(0).integers(0, 256, (12, 8, 8), dtype=np.uint8))
    folder = wganlab.train(
        None,
        out=tmp_path / "run",
        data={"source": "array", "path": str(tmp_path / "set.npy")},
        model={"z_dim": 4, "generator_widths": (16,), "critic_widths": (16,)},
        train={"steps": 4, "batch_size": 4, "device": "cpu"},
        log={"progress": False, "tensorboard": False, "checkpoint_every": 2, "sample_every": 2, "keep_checkpoints": 5},
    )
    run = RunFolder(folder)
    config = run.read_config()
    for step in (2, 4):
        generator = run.load_generator(step).network
        z = torch.randn(config.log.grid_size, 4, generator=make_rng(config.train.seed, "grid"))[:6]
        with torch.no_grad():
            expected = to_pixels(generator(z))
        got_step, got = images.sample_grid(folder, 6, step=step)
        assert got_step == step and got.shape == (6, 1, 8, 8)
        np.testing.assert_array_equal(to_pixels(got), expected)
    shutil.rmtree(folder / "checkpoints")
    last_step, last = images.sample_grid(folder, 6)
    assert last_step == 4 and torch.equal(last, images.sample_grid(folder, 6, step=4)[1])
    assert images.sample_steps(folder) == [2, 4]
    for picture in run.samples.glob("step-*.png"):
        picture.unlink()
    with pytest.raises(StudyError, match="holds no sample picture"):
        images.sample_grid(folder, 6)


def test_run_summary_names_the_last_evaluation_and_the_final_fid(tmp_path):
    records = [{"step": 150, "kind": "eval", "fd_fmnist": 1022.88}, {"step": 300, "kind": "train", "critic_loss": 1.0},
               {"step": 300, "kind": "eval", "fd_fmnist": 432.78}]  # fmt: skip
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    assert images.run_summary(None, tmp_path) == "step 300: fd_fmnist 433"
    final = {"step": 300, "kind": "final", "fid": 169.5236, "samples": 1000}
    with open(tmp_path / "metrics.jsonl", "a") as f:
        f.write(json.dumps(final) + "\n")
    assert images.run_summary(None, tmp_path) == "step 300: fd_fmnist 433, FID 169.5 (1000 samples)"
    (tmp_path / "metrics.jsonl").write_text(json.dumps(records[1]) + "\n")
    assert images.run_summary(None, tmp_path) == ""  # no evaluation yet: nothing to say
    # Every image study prints the same line.
    for module in (architecture_grid, batchnorm, clip_sweep, n_critic, quality_vs_time, loss_vs_quality):
        assert module.summary is images.run_summary


def test_tracking_beyond_the_time_trend_by_hand():
    from wganlab.studies.loss_vs_quality import change_correlation, matched_step_correlation, partial_correlation

    # Both fall at every step (Spearman 1), but each falls most where the other falls least: changes r = -1.
    assert change_correlation([10, 8, 7, 5, 4], [10, 9, 7, 6, 4]) == pytest.approx(-1.0)
    assert change_correlation([0, 1, 3, 6], [0, 2, 6, 12]) == pytest.approx(1.0)
    assert math.isnan(change_correlation([0, 1, 2, 3, 4], [0, 2, 1, 3, 2]))  # x changes by 1 every time
    # x = z + e1, y = z + e2 with e1, e2 orthogonal to each other and to z: all of r_xy (1/3) is the shared z.
    z = [1.0, 2.0, 3.0, 4.0]
    e1, e2 = [1.0, -1.0, -1.0, 1.0], [-1.0, 3.0, -3.0, 1.0]
    x, y = [a + b for a, b in zip(z, e1, strict=True)], [a + b for a, b in zip(z, e2, strict=True)]
    assert np.corrcoef(x, y)[0, 1] == pytest.approx(1 / 3)
    assert partial_correlation(x, y, z) == pytest.approx(0.0, abs=1e-12)
    assert partial_correlation(x, x, z) == pytest.approx(1.0)
    # Two runs at two steps: each run minus the steps' mean, pooled: x [-1, 1, -1, 1], y [-10, 10, 5, -5];
    # r = 10 / sqrt(4 * 250) = 1 / sqrt(10).
    curves = [
        {"step": 1, "estimate": 2.0, "fd": 20.0},
        {"step": 1, "estimate": 4.0, "fd": 40.0},
        {"step": 2, "estimate": 1.0, "fd": 15.0},
        {"step": 2, "estimate": 3.0, "fd": 5.0},
    ]
    r, pairs = matched_step_correlation(curves, "estimate", "fd")
    assert (r, pairs) == (pytest.approx(1 / math.sqrt(10)), 4)


def test_later_changes_drop_the_first_quarter_and_the_verdict_needs_both_tests():
    from wganlab.studies.loss_vs_quality import change_correlation, late_change_correlation, within_run_verdict

    # Eight evaluations: both fall by 100 at the first step, then the estimate moves against the quality.
    # All seven changes: x [-100, 1, -1, 2, -2, 1, -1], y [-100, -1, 1, -2, 2, -1, 1], r close to 1 (the first
    # change decides it). Without the first two evaluations (8 // 4): x [-1, 2, -2, 1, -1], y its negative, r = -1.
    x = [200.0, 100.0, 101.0, 100.0, 102.0, 100.0, 101.0, 100.0]
    y = [300.0, 200.0, 199.0, 200.0, 198.0, 200.0, 199.0, 200.0]
    assert change_correlation(x, y) > 0.99
    assert late_change_correlation(x, y) == pytest.approx(-1.0)
    assert late_change_correlation(x[:7], y[:7]) == pytest.approx(change_correlation(x[1:7], y[1:7]))  # 7 // 4 = 1
    assert math.isnan(late_change_correlation(x[:4], y[:4]))  # 3 evaluations left: too few changes
    assert within_run_verdict((0.9, 0.97), (0.74, 0.73)) == "follows quality from one evaluation to the next"
    assert within_run_verdict((0.9, 0.97), (0.74, 0.4)).endswith("only partly")
    assert within_run_verdict((0.7, 0.3), (-0.1, 0.1)) == "does not follow quality from one evaluation to the next"
    assert within_run_verdict((0.05, 0.11), (0.3, 0.2)).startswith("does not follow")
    assert within_run_verdict((0.29, -0.4), (0.3, 0.25)).endswith("only partly")
