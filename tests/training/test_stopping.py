"""train.stop_rule=plateau: the rule by hand, and a run that stops on it, killed and resumed, stops at the same
step with the same records as an uninterrupted one."""

import json
import shutil

import pytest

from wganlab.config import load_config
from wganlab.errors import ConfigError
from wganlab.training import loop, stopping
from wganlab.training.run_folder import RunFolder


def test_plateau_compares_the_last_quarter_with_the_best_before_it():
    rule = {"min_evaluations": 8, "tolerance": 0.03}
    # 8 evaluations: the last quarter is the last 2 (best 4.91), the best of the 6 before is 4.9: flat, stop.
    assert stopping.plateau([10, 8, 6, 5, 4.9, 4.95, 4.92, 4.91], **rule) == (4.91, 4.9)
    # Still improving: the last quarter's best (3) is 25 % below the best before it (4).
    assert stopping.plateau([10, 9, 8, 7, 6, 5, 4, 3], **rule) is None
    # Fewer evaluations than the minimum: never checked.
    assert stopping.plateau([5, 5, 5, 5, 5, 5, 5], **rule) is None
    # 9 evaluations: the last quarter is ceil(9 / 4) = 3 values; an improvement of exactly 3 % stops, 3.1 % not.
    assert stopping.plateau([100] * 6 + [99, 98, 97], **rule) == (97, 100)
    assert stopping.plateau([100] * 6 + [99, 98, 96.9], **rule) is None
    # Worse than before also counts as flat.
    assert stopping.plateau([1, 2, 3, 4, 5, 6, 7, 8], **rule) == (7, 1)


def test_check_names_the_step_and_records_why():
    found = stopping.check("plateau", [10, 20, 30, 40], [4.0, 2.0, 2.0, 2.0], min_evaluations=4, tolerance=0.03)
    assert found == stopping.Stop(step=40, evaluations=4, recent_best=2.0, earlier_best=2.0)
    record = found.record(0.03)
    assert (record["stopped_by"], record["stop_step"], record["stop_evaluations"]) == ("plateau", 40, 4)
    assert stopping.check("none", [10], [1.0], min_evaluations=2, tolerance=0.03) is None


def test_a_stop_rule_needs_evaluations(tiny_config):
    with pytest.raises(ConfigError, match="train.stop_rule='plateau' is checked at evaluations"):
        tiny_config("wgan-gp", "train.stop_rule=plateau").validate()
    with pytest.raises(ConfigError, match="train.stop_rule"):
        tiny_config("wgan-gp", "train.stop_rule=sometimes")


# A GAN on 8 Gaussians evaluated every 2 steps, stopped the first time its last quarter of W1 values is no better
# than the best before it (tolerance 0), checked from the 3rd evaluation; checkpoints at every evaluation.
STOPPING = ["train.steps=200", "log.eval_every=2", "log.log_every=2", "log.checkpoint_every=2",
            "log.keep_checkpoints=200", "log.sample_every=1000", "log.eval_samples=200", "train.stop_rule=plateau",
            "train.stop_min_evaluations=3", "train.stop_tolerance=0"]  # fmt: skip


def records(run_dir):
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def stopped(tmp_path_factory):
    tiny = ["model.generator_widths=32,32", "model.critic_widths=32,32", "train.batch_size=32", "train.device=cpu",
            "log.progress=false", "log.tensorboard=false"]  # fmt: skip
    config = load_config(None, ["objective.name=gan", *tiny, *STOPPING])
    run_dir = tmp_path_factory.mktemp("stopping") / "whole"
    loop.train(config, run_dir, progress=False)
    return config, run_dir


def test_a_run_stops_on_the_rule_and_says_why(stopped):
    config, run_dir = stopped
    outcome = RunFolder(run_dir).outcome()
    evals = RunFolder(run_dir).records("eval")
    assert outcome["status"] == "finished" and outcome["stopped_by"] == "plateau"
    assert outcome["step"] == outcome["stop_step"] == evals[-1]["step"] < config.train.steps
    values = [r["w1"] for r in evals]
    # The rule holds at the last evaluation and at no earlier one.
    assert stopping.plateau(values, min_evaluations=3, tolerance=0.0) is not None
    assert all(stopping.plateau(values[:k], min_evaluations=3, tolerance=0.0) is None for k in range(len(values)))
    assert (run_dir / "checkpoints" / f"step-{outcome['step']:08d}.pt").exists()  # saved as a last step


@pytest.mark.filterwarnings("ignore:rebuilt")
def test_a_run_killed_before_its_stop_resumes_to_the_same_stop(stopped, tmp_path):
    config, whole = stopped
    stop = RunFolder(whole).outcome()["step"]
    killed = tmp_path / "killed"
    shutil.copytree(whole, killed)
    # As if killed just after the checkpoint of step 4: later checkpoints, latest.pt and the outcome never written.
    for path in (killed / "checkpoints").glob("*.pt"):
        if path.name.startswith("step-") and int(path.stem.removeprefix("step-")) > 4 or path.name == "latest.pt":
            path.unlink()
    (killed / "outcome.json").unlink()
    assert stop > 4
    loop.train(config, killed, resume=True, progress=False)
    assert records(killed) == records(whole)
    resumed, original = RunFolder(killed).outcome(), RunFolder(whole).outcome()
    assert {k: resumed[k] for k in ("step", "stopped_by", "stop_step", "stop_reason")} == {
        k: original[k] for k in ("step", "stopped_by", "stop_step", "stop_reason")
    }


@pytest.mark.filterwarnings("ignore:rebuilt")
def test_a_run_killed_after_its_stopping_evaluation_stops_at_once_on_resume(stopped, tmp_path):
    config, whole = stopped
    killed = tmp_path / "killed"
    shutil.copytree(whole, killed)
    (killed / "outcome.json").unlink()  # killed after the last checkpoint, before the outcome
    state = loop.train(config, killed, resume=True, progress=False)
    assert state.step == RunFolder(whole).outcome()["step"]
    assert records(killed) == records(whole)
    assert RunFolder(killed).outcome()["stop_reason"] == RunFolder(whole).outcome()["stop_reason"]


def test_standing_says_where_a_running_run_is_against_the_rule():
    # 5 evaluations, rule from the 4th: the last ceil(5/4) = 2 (best 7.88) against the 3 before (best 8): 1.5 %.
    values = [10.0, 9.0, 8.0, 7.9, 7.88]
    assert stopping.standing(values, min_evaluations=4, tolerance=0.03) == (
        "last 2 of 5 evaluations improved 1.5% (stops at <= 3%)"
    )
    assert stopping.plateau(values, min_evaluations=4, tolerance=0.03) == (7.88, 8.0)  # the rule stops it there
    assert stopping.standing(values[:3], min_evaluations=4, tolerance=0.03) == "rule from evaluation 4 (at 3)"
    # Still improving: 1 - 5 / 8 = 37.5 %, and the rule goes on.
    assert "improved 37.5%" in stopping.standing([10.0, 9.0, 8.0, 6.0, 5.0], min_evaluations=4, tolerance=0.03)
    assert stopping.plateau([10.0, 9.0, 8.0, 6.0, 5.0], min_evaluations=4, tolerance=0.03) is None
