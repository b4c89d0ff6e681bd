"""`wganlab study ... --fp32`: the fast-path runs (bf16 autocast, channels-last) of a pool train in fp32, in a pool
and study folder of their own, for a CPU without bf16 instructions; and the warning that names the flag there."""

import pytest

from wganlab import cli
from wganlab.studies.common import cluster, images, study
from wganlab.studies.common.runner import folder_name, size_flags
from wganlab.studies.common.study import bf16_warning, make_plan

FAST = set(images.FAST_PATH)


def precision_of(run) -> str:
    return run.config().train.precision


def test_fp32_takes_the_fast_path_off_and_nothing_else():
    fast = make_plan("loss-vs-quality", "long", 1, recipe="seed")
    plain = make_plan("loss-vs-quality", "long", 1, recipe="seed", fp32=True)
    assert [run.key for run in plain.runs] == [run.key for run in fast.runs]
    assert {run.label("objective") for run in fast.runs if precision_of(run) == "bf16"} == {"gan", "wgan-gp"}
    assert {precision_of(run) for run in plain.runs} == {"fp32"}
    for before, after in zip(fast.runs, plain.runs, strict=True):
        assert [o for o in before.overrides if o not in FAST] == list(after.overrides)
    assert (fast.fp32, plain.fp32) == (False, True)
    assert plain.runs_dir == fast.runs_dir + "-fp32"  # its own pool: the two never share a run folder


def test_a_plan_without_fast_path_runs_is_unchanged(capsys):
    """The precision study's bf16 cells are its subject, not the fast path: --fp32 leaves them, and says so."""
    for name, size in (("precision", "default"), ("toy-training", "default")):
        before, after = make_plan(name, size, 1), make_plan(name, size, 1, fp32=True)
        assert [r.overrides for r in after.runs] == [r.overrides for r in before.runs]
        assert (after.fp32, after.runs_dir) == (False, before.runs_dir)
        assert f"--fp32: {name} has no fast-path runs" in capsys.readouterr().err
    assert any(precision_of(run) == "bf16" for run in make_plan("precision", "default", 1, fp32=True).runs)
    capsys.readouterr()
    make_plan("toy-training", "default", 1, fp32=True, quiet=True)  # `study all --fp32`: one line per study is noise
    assert capsys.readouterr().err == ""


def test_an_all_fp32_study_of_a_fast_pool_joins_its_fp32_twin(capsys):
    """clip-sweep trains only WGAN (fp32 in every pool), so --fp32 changes none of its runs; it must still find
    loss-vs-quality's finished WGAN runs (c = 0.005, seed 000) in the fp32 pool instead of training them again."""
    lvq = make_plan("loss-vs-quality", "long", 3, recipe="seed", fp32=True)
    capsys.readouterr()
    clip = make_plan("clip-sweep", "long", 3, recipe="seed", fp32=True)
    said = capsys.readouterr().err
    assert "clip-sweep's runs train in fp32 already" in said and "image-runs-long-seed000-fp32" in said
    assert (clip.fp32, clip.runs_dir) == (True, lvq.runs_dir)
    shared = {run.key: run.overrides for run in clip.runs}
    wgan = [run for run in lvq.runs if run.label("objective") == "wgan"]
    assert len(wgan) == 3 and all(shared[run.key] == run.overrides for run in wgan)
    assert folder_name("clip-sweep", "long", "seed", clip.fp32) == "clip-sweep-long-seed-fp32"
    unflagged = make_plan("clip-sweep", "long", 3, recipe="seed")
    assert [r.overrides for r in unflagged.runs] == [r.overrides for r in clip.runs]
    assert clip.runs_dir == unflagged.runs_dir + "-fp32"


def test_the_flag_names_the_folder_and_travels_in_every_command(tmp_path):
    assert folder_name("batchnorm", "long", "seed", fp32=True) == "batchnorm-long-seed-fp32"
    assert size_flags("long", 2, "seed", fp32=True) == ["--scale", "long", "--recipe", "seed", "--fp32", "--seeds=2"]
    plan = make_plan("batchnorm", "long", 1, recipe="seed", fp32=True)
    commands = cluster.run_commands(plan, tmp_path / "batchnorm-long-seed-fp32")
    assert all(argv[3:9] == ["--scale", "long", "--recipe", "seed", "--fp32", "--seeds=1"] for argv in commands)
    script = cluster.slurm_script(plan, tmp_path, commands, cluster.PlanFormat(format="slurm"))
    assert "#SBATCH --job-name=wganlab-batchnorm-long-seed-fp32" in script


def test_a_cluster_task_of_an_fp32_plan_trains_in_fp32_in_its_own_pool(tmp_path, capsys):
    """The job list carries --fp32, and the command each job runs (`--run KEY`) trains its run in fp32."""
    out = tmp_path / "batchnorm-long-fp32"
    assert cli.main(["study", "batchnorm", "--scale", "long", "--fp32", "--plan", "--format", "parallel",
                     "--out", str(out)]) == 0  # fmt: skip
    jobs = (out / "parallel.txt").read_text().splitlines()
    assert jobs and all(" --fp32 " in job for job in jobs)
    key = next(run.key for run in make_plan("batchnorm", "long", 1, fp32=True).runs if run.label("objective") == "gan")
    argv = study.run_one("batchnorm", key, size="long", seeds=1, out=out, fp32=True)
    assert argv[0] == "train" and "train.precision=bf16" not in argv and "train.channels_last=true" not in argv
    assert argv[argv.index("--out") + 1] == str((tmp_path / "image-runs-long-fp32" / key).resolve())


@pytest.mark.parametrize("native", [False, True])
def test_the_warning_names_fp32_only_where_bf16_is_emulated_and_runs_are_left(monkeypatch, native):
    monkeypatch.setattr("wganlab.training.precision.native_bf16", lambda device: native)
    fast = make_plan("loss-vs-quality", "long", 1, recipe="seed")
    line = bf16_warning(fast, fast.runs)
    if native:
        assert line is None
    else:
        assert line.startswith("warning: 2 of the 3 runs left train in bf16 autocast")
        assert line.endswith("add --fp32 to train them in fp32 (in a pool of its own)")
    wgan_only = [run for run in fast.runs if run.label("objective") == "wgan"]
    assert bf16_warning(fast, wgan_only) is None  # nothing left in bf16
    assert bf16_warning(make_plan("loss-vs-quality", "long", 1, recipe="seed", fp32=True), fast.runs[:0]) is None


def test_the_run_mode_prints_the_warning_before_training(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr("wganlab.training.precision.native_bf16", lambda device: False)
    started = []
    monkeypatch.setattr(study.runner, "execute", lambda plan, *a, **k: started.append(plan.study) or ["x"])
    with pytest.raises(study.StudyError):
        study.run_study("loss-vs-quality", size="long", seeds=1, recipe="seed", out=tmp_path / "s")
    assert started == ["loss-vs-quality"]
    assert "wganlab study loss-vs-quality: warning: 2 of the 3 runs left" in capsys.readouterr().err


def test_the_report_of_an_fp32_plan_says_so():
    from wganlab.studies.common.report import Section
    from wganlab.studies.common.study import name_precision

    for fp32, expected in ((False, 0), (True, 1)):
        section = Section("loss-vs-quality", "T", [])
        name_precision(section, make_plan("loss-vs-quality", "long", 1, recipe="seed", fp32=fp32))
        said = [line for line in section.setup if "--fp32" in line]
        assert len(said) == expected
        if fp32:
            assert "image-runs-long-seed000-fp32" in said[0]


@pytest.mark.parametrize(("name", "size"), [("ema", "default"), ("augment", "default"), ("mode-collapse", "long")])
def test_every_fast_pool_has_an_fp32_twin(name, size):
    fast, plain = make_plan(name, size, 1), make_plan(name, size, 1, fp32=True)
    assert any(precision_of(run) == "bf16" for run in fast.runs)
    assert {precision_of(run) for run in plain.runs} == {"fp32"}
    assert [run.key for run in plain.runs] == [run.key for run in fast.runs]
    assert plain.runs_dir == fast.runs_dir + "-fp32"
