import math

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.stats import norm
from torch.testing import assert_close

from wganlab.studies import distances
from wganlab.studies.common import runner
from wganlab.studies.common.report import read_csv
from wganlab.studies.common.runner import StudyError

LOG2 = math.log(2.0)


def js_by_quad(d: float, variance: float) -> float:
    """JS of N(0, C) and N(d, C) by adaptive quadrature: an independent check of the Simpson grid."""
    std = math.sqrt(variance)

    def integrand(x: float) -> float:
        p, q = norm.pdf(x, 0, std), norm.pdf(x, d, std)
        m = (p + q) / 2
        return 0.5 * (p * math.log(p / m) if p > 0 else 0) + 0.5 * (q * math.log(q / m) if q > 0 else 0)

    return quad(integrand, min(0, d) - 12 * std, max(0, d) + 12 * std, points=[0, d], limit=200)[0]


@pytest.mark.parametrize("variance", distances.VARIANCES)
def test_js_is_zero_at_zero_and_log2_far_apart(variance):
    assert_close(distances.js_gaussians(0.0, variance), 0.0, atol=1e-12, rtol=0)
    assert_close(distances.js_gaussians(12 * math.sqrt(variance) * 2, variance), LOG2, atol=1e-9, rtol=0)


@pytest.mark.parametrize(("d", "variance"), [(0.5, 0.1), (1.0, 0.3), (2.0, 1.0), (-1.5, 1.0)])
def test_js_matches_quadrature(d, variance):
    assert_close(distances.js_gaussians(d, variance), js_by_quad(d, variance), rtol=1e-6, atol=1e-9)


def test_discrete_js_hand_values():
    assert_close(distances.discrete_js(np.array([1.0, 0.0]), np.array([0.0, 1.0])), LOG2)
    assert_close(distances.discrete_js(np.array([0.3, 0.7]), np.array([0.3, 0.7])), 0.0)
    # p = (1, 0), q = (1/2, 1/2): m = (3/4, 1/4); JS = (log(4/3) + (log(2/3) + log 2)/2) / 2
    expected = 0.5 * math.log(4 / 3) + 0.25 * (math.log(2 / 3) + math.log(2))
    assert_close(distances.discrete_js(np.array([1.0, 0.0]), np.array([0.5, 0.5])), expected)


@pytest.mark.parametrize("variance", distances.VARIANCES)
@pytest.mark.parametrize("d", [0.0, 1.0, -3.0])
def test_pot_w1_is_abs_d_within_sampling_error(d, variance):
    # Two independent n-samples of one shape are ~ std * sqrt(2 / n) apart in W1; 5x that is the bound.
    n = 4000
    sampled = distances.w1_gaussians_sampled(d, variance, n, np.random.default_rng(1))
    assert_close(sampled, abs(d), atol=5 * math.sqrt(variance) * math.sqrt(2 / n), rtol=0)


def test_parallel_lines():
    thetas = np.array([-1.0, -0.5, -0.1, 0.0, 0.1, 0.5, 1.0])
    rows = distances.parallel_lines(thetas, 500, np.random.default_rng(0), bin_width=0.02)
    for row in rows:
        assert_close(row["w1_closed_form"], abs(row["theta"]))
        expected_js = 0.0 if row["theta"] == 0 else LOG2
        assert_close(row["js_closed_form"], expected_js)
        assert_close(row["js_histogram"], expected_js, atol=1e-12, rtol=0)
        # Independent Z draws of 500 points: W1 of the y-marginals alone is ~0.02.
        assert_close(row["w1_pot_samples"], abs(row["theta"]), atol=0.05, rtol=0)


def test_study_numbers_and_identical_rerun(tmp_path, in_process):
    plan = distances.plan("quick", 2)
    plan.settings.update(n_lines=300)  # ot.emd2 on 300 x 300 per theta: the check, not the precision
    for name in ("a", "b"):
        in_process(plan, tmp_path / name)
    section = distances.collect(plan, tmp_path / "a")
    distances.collect(plan, tmp_path / "b")
    assert (tmp_path / "a" / "gaussians.csv").read_bytes() == (tmp_path / "b" / "gaussians.csv").read_bytes()
    for run in plan.runs:
        for name in ("w1_pot_check.csv", "parallel_lines.csv"):
            a, b = (plan.folder(tmp_path / folder, run) / name for folder in ("a", "b"))
            assert a.read_bytes() == b.read_bytes()
    seeds = [read_csv(plan.folder(tmp_path / "a", run) / "w1_pot_check.csv") for run in plan.runs]
    assert seeds[0] != seeds[1]  # each seed draws its own samples
    for row in seeds[0] + seeds[1]:
        std = math.sqrt(float(row["variance"]))
        assert_close(float(row["w1_pot"]), abs(float(row["d"])), atol=5 * std * math.sqrt(2 / 2000), rtol=0)
    assert (tmp_path / "a" / "plots" / "distances.png").stat().st_size > 10_000
    assert not (tmp_path / "a" / "plots" / "distances.svg").exists()  # one format per figure
    assert section.findings and "log 2" in section.findings[0] and "over 2 seeds" in section.findings[1]


def test_a_task_result_is_reused_only_with_the_settings_it_was_made_with(tmp_path, in_process):
    plan = distances.plan("quick", 1)
    plan.settings.update(n_lines=300)
    in_process(plan, tmp_path)
    run = plan.runs[0]
    assert runner.state(plan, run, tmp_path) == "done"
    two_seeds = distances.plan("quick", 2)  # more seeds beside it: seed 0 is still the same run
    two_seeds.settings.update(n_lines=300)
    assert [runner.state(two_seeds, r, tmp_path) for r in two_seeds.runs] == ["done", "todo"]
    more_samples = distances.plan("quick", 1)  # n_lines back at the quick size's 1,000
    with pytest.raises(StudyError, match=r"holds a result made with other settings \(n_lines\)"):
        runner.state(more_samples, run, tmp_path)
    (plan.folder(tmp_path, run) / "task.json").unlink()
    with pytest.raises(StudyError, match=r"holds a result\.json but no task\.json"):
        runner.state(plan, run, tmp_path)
