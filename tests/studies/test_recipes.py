"""`--recipe seed`: each image study trains at the settings of the seed whose claim it tests, in its own folder and
run pool; `--scale long` stops its runs on the plateau rule at the recipe's length."""

import pytest

from wganlab.errors import ConfigError
from wganlab.studies.common import cluster, recipes
from wganlab.studies.common.registry import load_study
from wganlab.studies.common.report import Section, Table
from wganlab.studies.common.runner import folder_name
from wganlab.studies.common.study import make_plan, name_recipe

# (optimizer, generator and critic lr, betas (Adam only), n_critic, c (WGAN) or lambda (WGAN-GP)) per objective.
SEED000 = {  # seed 000, sec. I; its GAN with DCGAN's recipe, WGAN-GP (not in the seed) as published
    "gan": ("adam", 2e-4, (0.5, 0.999), 1, None),
    "wgan": ("rmsprop", 5e-4, None, 5, 0.005),
    "wgan-gp": ("adam", 1e-4, (0.0, 0.9), 5, 10.0),
}
SEED002 = {  # seed 002, Table 1 (betas: the seed002 presets')
    "gan": ("adam", 2e-4, (0.5, 0.999), 1, None),
    "wgan": ("rmsprop", 2e-4, None, 4, 0.01),
    "wgan-gp": ("adam", 2e-4, (0.5, 0.999), 4, 10.0),
}
SEED003 = {  # seed 003: WGAN RMSProp 1e-4, c 0.01; WGAN-GP the paper's, at its batch of 128
    "wgan": ("rmsprop", 1e-4, None, None, 0.01),
    "wgan-gp": ("adam", 1e-4, (0.0, 0.9), None, 10.0),
}
STUDIES = {
    "loss-vs-quality": (SEED000, 64, "seed000"),
    "batchnorm": (SEED000, 64, "seed000"),
    "clip-sweep": (SEED000, 64, "seed000"),
    "architecture-grid": (SEED002, 256, "seed002"),
    "n-critic": (SEED003, 128, "seed003"),
}


def settings_of(config):
    o, opt = config.objective, config.optim
    bound = o.clip_value if o.constraint == "clip" else o.penalty_weight if o.constraint == "penalty" else None
    betas = opt.betas if opt.optimizer == "adam" else None
    return opt.optimizer, opt.generator_lr, opt.critic_lr, betas, o.n_critic, bound


@pytest.mark.parametrize("name", sorted(STUDIES))
def test_each_studys_seed_plan_has_the_seeds_settings(name):
    expected, batch, key = STUDIES[name]
    plan = make_plan(name, "default", 1, recipe="seed")
    assert plan.recipe == "seed" and plan.runs_dir == f"../image-runs-{key}"
    for run in plan.runs:
        config = run.config()
        optimizer, lr, betas, n_critic, bound = expected[run.label("objective")]
        variant = run.label("variant")
        if variant.startswith("ncritic-"):
            n_critic = int(variant.split("-")[1])
        if variant.startswith("clip-"):
            bound = float(variant.split("-")[1])
        assert settings_of(config) == (optimizer, lr, lr, betas, n_critic, bound), run.key
        assert (config.train.batch_size, config.model.init_std, config.train.steps) == (batch, 0.02, 3000), run.key


def test_the_varied_settings_cover_the_seeds_values():
    clips = {run.config().objective.clip_value for run in make_plan("clip-sweep", "default", 1, recipe="seed").runs}
    assert clips == {0.001, 0.005, 0.01, 0.05, 0.1}
    plain = make_plan("clip-sweep", "default", 1, recipe="seed").find(variant="")[0]
    assert plain.key == "dcgan-bn-none/wgan/seed-0" and plain.config().objective.clip_value == 0.005  # seed 000's c
    n = {(r.label("objective"), r.config().objective.n_critic) for r in make_plan("n-critic", "default", 1,
                                                                                  recipe="seed").runs}  # fmt: skip
    assert n == {(o, k) for o in ("wgan", "wgan-gp") for k in (1, 2, 4)}  # seed 003: once, twice, 4 times


def test_studies_of_one_seed_share_runs_and_recipes_never_mix():
    lvq = {r.key: r for r in make_plan("loss-vs-quality", "default", 1, recipe="seed").runs}
    for name in ("batchnorm", "clip-sweep"):
        for run in make_plan(name, "default", 1, recipe="seed").runs:
            if run.key in lvq:
                assert run == lvq[run.key]
    published = make_plan("loss-vs-quality", "default", 1)
    assert published.runs_dir == "../image-runs" and published.recipe == "published"
    assert folder_name("loss-vs-quality", "default", "seed") == "loss-vs-quality-seed"
    assert folder_name("loss-vs-quality", "long", "seed") == "loss-vs-quality-long-seed"
    assert folder_name("loss-vs-quality", "default") == "loss-vs-quality"


def test_a_seed_report_names_the_recipe_in_its_title_and_every_table():
    tables = [Table("A", [], []), Table("B", [], [])]
    section = Section("loss-vs-quality", "Does the loss track quality?", ["x"], tables=tables)
    name_recipe(section, load_study("loss-vs-quality"), "seed")
    assert section.title == "Does the loss track quality?, with seed 000's settings"
    assert [t.title for t in section.tables] == ["A (seed 000's settings)", "B (seed 000's settings)"]
    assert section.setup[0].startswith("Recipes: seed 000, sec. I")
    published = Section("loss-vs-quality", "T", ["x"], tables=[Table("A", [], [])])
    name_recipe(published, load_study("loss-vs-quality"), "published")
    assert (published.title, published.tables[0].title, published.setup) == ("T", "A", [])


def test_the_cluster_script_carries_the_recipe(tmp_path):
    plan = make_plan("clip-sweep", "default", 1, recipe="seed")
    commands = cluster.run_commands(plan, tmp_path / "clip-sweep-seed")
    assert all(argv[3:6] == ["--recipe", "seed", "--seeds=1"] for argv in commands)
    script = cluster.slurm_script(plan, tmp_path, commands, cluster.PlanFormat(format="slurm"))
    assert "#SBATCH --job-name=wganlab-clip-sweep-seed" in script
    assert "wganlab study clip-sweep --recipe seed --seeds=1 --plan" in script


def test_studies_without_a_seed_recipe_refuse_it():
    for name in ("quality-vs-time", "random-architectures"):
        with pytest.raises(ConfigError, match="seed 004 reviews without settings of its own"):
            make_plan(name, "default", 1, recipe="seed")
    with pytest.raises(ConfigError, match="takes no --recipe seed"):
        make_plan("distances", "default", 1, recipe="seed")
    with pytest.raises(ConfigError, match="unknown --recipe"):
        recipes.seed_recipe(load_study("batchnorm"), "mine")


def test_toy_training_seed_recipe_is_algorithm_1s_batch_for_wgan():
    plan = make_plan("toy-training", "default", 1, recipe="seed")
    batches = {run.label("objective"): run.config().train.batch_size for run in plan.runs}
    assert batches == {"gan": 256, "wgan": 64, "wgan-gp": 256, "sngan": 256}
    wgan = plan.find(objective="wgan")[0].config()
    assert settings_of(wgan) == ("rmsprop", 5e-5, 5e-5, None, 5, 0.01)  # Algorithm 1 (seed 001)


def test_the_long_size_stops_on_the_rule_at_the_recipes_length():
    cases = {
        ("loss-vs-quality", "published"): ("steps", 50_000, 500, 8),
        ("loss-vs-quality", "seed"): ("steps", 50_000, 500, 8),  # seed 000: 50K steps
        ("architecture-grid", "seed"): ("epochs", 1000, 500, 8),  # seed 002: 1,000 epochs
        ("n-critic", "seed"): ("epochs", 50, 500, 8),  # seed 003: 50 epochs
        ("random-architectures", "published"): ("steps", 12_000, 375, 16),  # >= 16 x 375 = 6,000 steps
        ("toy-training", "published"): ("steps", 100_000, 500, 40),  # >= 40 x 500 = 20,000 steps
    }
    for (name, recipe), (unit, length, every, minimum) in cases.items():
        for run in make_plan(name, "long", 1, recipe=recipe).runs:
            config = run.config()
            assert (config.train.epochs if unit == "epochs" else config.train.steps) == length, (name, run.key)
            assert (config.train.stop_rule, config.train.stop_tolerance) == ("plateau", 0.03)
            assert (config.log.eval_every, config.train.stop_min_evaluations) == (every, minimum)
