import pytest
import torch
from torch.testing import assert_close

from wganlab.objectives import GradientPenalty
from wganlab.studies import value_surface
from wganlab.studies.common import runner
from wganlab.studies.common.report import read_csv


@pytest.mark.parametrize("clip", value_surface.CLIP_VALUES)
def test_clipped_critic_weights_stay_within_c(clip):
    # init std 2c: about a third of the weights start outside [-c, c], so the clamp has work to do.
    state, norms = value_surface.train_critic("s_curve", f"clip {clip:g}", 5, 0, "64,64", init_std=2 * clip)
    params = torch.cat([p.detach().flatten() for p in state.critic.network.parameters()])
    bound = torch.tensor(clip, dtype=params.dtype)  # WeightClip clamps to the float32 value of c
    assert_close(params.abs().max(), bound, atol=0, rtol=0)  # some weights sit exactly on the bound
    facts = value_surface.critic_facts(state, f"clip {clip:g}", "s_curve", 0)
    assert 0 < facts["share_params_at_bound"] <= 1
    assert len(norms) == 5 and len(norms[0]) == 3  # one norm per linear layer per update


def test_penalty_critic_gradient_norm_near_one():
    # lambda 10 and critic lr 1e-3 (not the toy preset's 0.1 and 1e-4) so that 200 updates of a width-64
    # critic are enough: at seed 0 the mean norm on interpolates is ~0.97 (std ~0.17); the tolerance is 0.1.
    extra = ("objective.penalty_weight=10", "optim.critic_lr=1e-3")
    state, _ = value_surface.train_critic("eight_gaussians", "penalty", 200, 0, "64,64,64", extra=extra)
    assert isinstance(state.constraint, GradientPenalty) and state.constraint.weight == 10
    facts = value_surface.critic_facts(state, "penalty", "eight_gaussians", 0)
    assert_close(facts["grad_norm_mean"], 1.0, atol=0.1, rtol=0)


def test_fixed_generator_is_real_plus_unit_noise():
    generator = value_surface.RealPlusNoise("s_curve", torch.Generator().manual_seed(0))
    z = torch.zeros(2000, 2)
    # z = 0 leaves the real sample: the S-curve, noise 0.01, within [-1, 1] x [-2, 2]
    real_only = generator(z)
    assert real_only.abs()[:, 0].max() <= 1.05 and real_only.abs()[:, 1].max() <= 2.05
    shifted = value_surface.RealPlusNoise("s_curve", torch.Generator().manual_seed(0))(z + 1.0)
    assert_close(shifted - real_only, torch.ones(2000, 2))


def test_surface_grid_orientation():
    class XOnly(torch.nn.Module):
        def forward(self, x):
            return x[:, 0]

    values = value_surface.surface(XOnly(), 5)
    # rows are y, columns x: every row runs from -LIMIT to LIMIT
    assert_close(values[0], torch.linspace(-value_surface.LIMIT, value_surface.LIMIT, 5).numpy())


def test_same_seed_same_critic():
    a, norms_a = value_surface.train_critic("s_curve", "penalty", 3, 1, "32,32")
    b, norms_b = value_surface.train_critic("s_curve", "penalty", 3, 1, "32,32")
    assert norms_a == norms_b
    for p, q in zip(a.critic.network.parameters(), b.critic.network.parameters(), strict=True):
        assert torch.equal(p, q)


@pytest.mark.slow  # long: the slow tier (CI runs it) keeps it
def test_tasks_and_collect_on_a_tiny_plan(tmp_path, in_process):
    plan = value_surface.plan("quick", 2)
    plan.settings.update(iterations=3, deep_iterations=2, points=11)
    in_process(plan, tmp_path)
    section = value_surface.collect(plan, tmp_path)
    rows = section.tables[0].rows
    assert [row[1] for row in rows] == list(value_surface.SETTINGS)
    assert all(" ± " in row[3] for row in rows)  # exact W1 over two seeds
    assert {f.path.name for f in section.figures} == {"value_surfaces", "weights", "deep_gradient_norms"}
    deep = read_csv(tmp_path / "deep_gradient_norms.csv")
    assert len(deep) == len(value_surface.SETTINGS) * 2 * 12  # settings x seeds x layers


def test_the_toy_list_and_seed_count_only_select_runs():
    default = value_surface.plan("default", None)
    wider = value_surface.plan("default", 5)  # five seeds: the same runs, and more of them
    assert {run.key for run in default.runs} < {run.key for run in wider.runs}
    wider.settings["toys"] = value_surface.TOYS  # as a plan over every toy would record it
    assert runner.task_settings(default) == runner.task_settings(wider)
    longer = value_surface.plan("default", None)
    longer.settings["iterations"] = 20_000  # a longer critic is another run
    assert runner.task_settings(longer) != runner.task_settings(default)
