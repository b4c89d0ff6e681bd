"""The colour study: every size's runs with their exact settings (seed 000's and seed 003's beside the published
recipes), Twemoji built into the user cache by `prepare` (from a tiny wheel here), and `wganlab study colour --quick`
end to end (slow tier)."""

import pytest

from wganlab.cli import main
from wganlab.errors import ConfigError
from wganlab.files import resolve_user_path
from wganlab.studies import colour
from wganlab.studies.common.report import read_csv
from wganlab.studies.common.study import make_plan

# (objective, generator norm, recipe, n_critic) -> (optimizer, lr, clip, n_critic, batch, critic norm)
EXPECTED_SETTINGS = {
    ("gan", "batch", "published", 0): ("adam", 2e-4, None, 1, 64, "batch"),
    ("gan", "none", "published", 0): ("adam", 2e-4, None, 1, 64, "batch"),
    ("wgan", "batch", "published", 0): ("rmsprop", 5e-5, 0.01, 5, 64, "none"),
    ("wgan", "none", "published", 0): ("rmsprop", 5e-5, 0.01, 5, 64, "none"),
    ("wgan", "batch", "seed000", 0): ("rmsprop", 5e-4, 0.005, 5, 64, "none"),
    ("wgan", "none", "seed000", 0): ("rmsprop", 5e-4, 0.005, 5, 64, "none"),
    **{("wgan", "batch", "seed003", n): ("rmsprop", 1e-4, 0.01, n, 128, "none") for n in (1, 2, 4)},
    **{("wgan", "batch", "published", n): ("rmsprop", 5e-5, 0.01, n, 64, "none") for n in (1, 2, 4)},
}
# size: (steps, eval_every, eval_samples, final_samples, channels, image size, largest batch)
SIZES = {
    "quick": (20, 10, 32, 32, 8, 32, 16),
    "default": (2000, 250, 500, 2000, 32, 64, 128),
    "long": (50_000, 500, 500, 2000, 32, 64, 128),
}


@pytest.mark.parametrize("size", SIZES)
def test_every_size_plans_the_seed_settings_beside_the_published_ones(size, isolated_user_cache):
    steps, every, eval_n, final_n, channels, image_size, max_batch = SIZES[size]
    plan = make_plan("colour", size, None)
    seeds = 1 if size == "quick" else 3
    assert len(plan.runs) == 12 * seeds and len({run.key for run in plan.runs}) == len(plan.runs)
    found = set()
    for run in plan.runs:
        config = run.config()
        key = (config.objective.name, config.model.generator_norm, run.label("recipe"),
               int(run.key.split("ncritic-")[1].split("/")[0]) if "ncritic" in run.key else 0)  # fmt: skip
        found.add(key)
        optimizer, lr, clip, n_critic, batch, critic_norm = EXPECTED_SETTINGS[key]
        assert (config.optim.optimizer, config.optim.generator_lr, config.optim.critic_lr) == (optimizer, lr, lr)
        assert config.objective.n_critic == n_critic == run.label("n_critic")
        if clip is not None:
            assert (config.objective.constraint, config.objective.clip_value) == ("clip", clip)
        assert (config.model.critic_norm, config.model.channels, config.model.architecture) == (
            critic_norm,
            channels,
            "dcgan",
        )
        assert config.train.batch_size == min(batch, max_batch)
        assert (config.data.source, config.data.path, config.data.image_size, config.data.channels) == (
            "folder",
            "cache:datasets/twemoji/images",  # the config names no home folder: it travels
            image_size,
            3,
        )
        assert resolve_user_path(config.data.path) == str(isolated_user_cache / "datasets" / "twemoji" / "images")
        assert config.log.eval_metrics == ("fid",) and config.log.final_metrics == ("fid", "kid", "pr")
        assert (config.log.eval_every, config.log.eval_samples, config.log.final_samples) == (every, eval_n, final_n)
        assert config.train.steps == steps
        assert config.train.stop_rule == ("plateau" if size == "long" else "none")
        if size == "long":
            assert (config.train.stop_min_evaluations, config.train.stop_tolerance) == (8, 0.03)
    assert found == set(EXPECTED_SETTINGS)


def test_the_paper_size_trains_the_seeds_own_lengths():
    plan = make_plan("colour", "paper", 1)
    for run in plan.runs:
        config = run.config()
        assert config.model.channels == 64 and config.log.evaluations == 25
        recipe = run.label("recipe")
        if recipe == "seed003":
            assert config.train.epochs == 50
        else:
            assert (config.train.steps, config.train.epochs) == (50_000, 0)


def test_other_colour_data_and_refusals():
    plan = make_plan("colour", "quick", 1, "seeds/seed000-celeba-wgan")
    config = plan.runs[0].config()
    assert (config.data.source, config.data.path) == ("folder", "celeba")
    assert plan.runs_dir == "../colour-runs-quick-seed000-celeba-wgan"
    with pytest.raises(ConfigError, match="1 channel"):
        make_plan("colour", "quick", 1, "fashion_mnist/gan")
    with pytest.raises(ConfigError, match="no --recipe seed"):
        make_plan("colour", "quick", 1, recipe="seed")


def test_prepare_builds_twemoji_into_the_user_cache(tiny_twemoji_wheel, isolated_user_cache):
    folder = isolated_user_cache / "datasets" / "twemoji"
    if folder.exists():  # another test of this session built it
        return
    colour.prepare(make_plan("colour", "quick", 1))
    assert len(list((folder / "images").glob("*.png"))) == 40 and (folder / "LICENSE-ATTRIBUTION.txt").exists()


@pytest.mark.slow
def test_quick_study_runs_end_to_end_from_the_cli(tiny_twemoji_wheel, tmp_path):
    """`wganlab study colour --quick`: builds its data (from the tiny wheel), trains 12 runs at 32 px, collects
    (about 5-10 min on 2 busy cores: every run measures TF-Inception FID three times)."""
    out = tmp_path / "colour-quick"
    assert main(["study", "colour", "--quick", "--out", str(out), "--jobs", "2"]) in (0, None)
    runs = read_csv(out / "runs.csv")
    assert len(runs) == 12 and all(r["status"] == "finished" and float(r["fid"]) > 0 for r in runs)
    curves = read_csv(out / "curves.csv")
    assert sorted({int(r["step"]) for r in curves}) == [10, 20] and len(curves) == 24
    for plot in ("estimate_and_quality", "n_critic", "samples"):
        assert (out / "plots" / f"{plot}.png").stat().st_size > 10_000
    report = (out / "report.md").read_text()
    assert "Seed 000 Fig. 1" in report and "Seed 003" in report
