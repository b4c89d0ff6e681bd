"""The `long` size's runs last until a stop rule ends them, often longer than the session or job that trains them:
each keeps a checkpoint often enough that a study stopped mid-run loses little of it."""

import pytest

from wganlab.errors import ConfigError
from wganlab.studies.common.study import all_studies, make_plan
from wganlab.studies.common.toys import spread
from wganlab.studies.toy_training import TOYS


def long_plans():
    for module in all_studies(takes_data=False):
        for recipe in ("published", "seed") if getattr(module, "SEED_RECIPE", None) else ("published",):
            try:
                plan = make_plan(module.NAME, "long", 1, recipe=recipe, quiet=True)
            except ConfigError:  # a study without a long size
                continue
            yield pytest.param(plan, id=f"{module.NAME}-{recipe}")


@pytest.mark.parametrize("plan", list(long_plans()))
def test_a_stopped_long_run_loses_at_most_five_evaluations(plan):
    stopped_by_rule = [run.config() for run in plan.runs]
    stopped_by_rule = [c for c in stopped_by_rule if c.train.stop_rule != "none"]
    for config in stopped_by_rule:
        assert config.log.checkpoint_every <= 5 * config.log.eval_every, plan.name
        if config.data.source in TOYS:  # the scatter figure draws from the kept checkpoints
            assert config.log.keep_checkpoints >= config.train.steps // config.log.checkpoint_every + 1
        else:  # images: a checkpoint at every evaluation
            assert config.log.checkpoint_every == config.log.eval_every


def test_every_long_image_and_toy_study_is_checked():
    names = {p.values[0].study for p in long_plans()}
    assert {"toy-training", "loss-vs-quality", "n-critic", "random-architectures", "colour", "mode-collapse"} <= names


def test_spread_keeps_the_first_and_the_last_evenly_spaced():
    assert spread(list(range(10)), 4) == [0, 3, 6, 9]
    assert spread(list(range(41)), 4) == [0, 13, 27, 40]
    assert spread([5, 6], 4) == [5, 6]
    assert spread([1, 2, 3], 1) == [3]


@pytest.mark.parametrize("name", ["distances", "augment"])
def test_a_size_the_study_does_not_have_is_refused_in_one_line(name, capsys):
    from wganlab import cli

    assert cli.main(["study", name, "--scale", "long", "--plan"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"study {name} has no long size (--scale long); its sizes: quick, default" in err[0]
