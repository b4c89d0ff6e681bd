import json

import torch
from torch.testing import assert_close

from wganlab.objectives import StandardGAN, Wasserstein, WeightClip
from wganlab.studies import critic_response_1d as critic_response
from wganlab.studies.common.report import read_csv
from wganlab.studies.common.runner import Plan

# A small, fast setting that reliably shows the effect (width 64, batch 256, critic lr 1e-3, 300 updates):
# at seed 0 the GAN's slope at x = 4 is ~0.01 of its peak and the WGAN's ~0.2 of its peak.
SMALL = {"widths": "64,64,64", "batch_size": 256, "extra": ("optim.critic_lr=1e-3",)}


def test_presets_give_the_papers_objectives():
    gan = critic_response.train_critic("gan", 0, 0, **SMALL)
    wgan = critic_response.train_critic("wgan", 0, 0, **SMALL)
    assert isinstance(gan.loss, StandardGAN)
    assert isinstance(wgan.loss, Wasserstein) and isinstance(wgan.constraint, WeightClip)
    assert isinstance(wgan.critic.optimizer, torch.optim.RMSprop) and isinstance(gan.critic.optimizer, torch.optim.Adam)
    fake = gan.generator(torch.zeros(4, 1))
    assert_close(fake, torch.ones(4, 1))  # the fixed generator is z + 1


def small_plan(iterations: int, seeds: int = 1) -> Plan:
    plan = critic_response.plan("quick", seeds)
    plan.settings.update(iterations=iterations, **SMALL)
    return plan


def test_gan_gradient_vanishes_at_4_but_wgan_does_not(tmp_path, in_process):
    plan = small_plan(300)
    in_process(plan, tmp_path)
    results = {run.label("objective"): json.loads((plan.folder(tmp_path, run) / "result.json").read_text())
               for run in plan.runs}  # fmt: skip
    gan, wgan = results["gan"], results["wgan"]
    # Both learned the direction: real (x = -1) scores above fake (x = +1).
    assert gan["value_at_minus_1"] > 0.5 > gan["value_at_plus_1"]
    assert wgan["value_at_minus_1"] > wgan["value_at_plus_1"]
    # D has saturated at x = 4 (D < 0.01) and its slope there is under 3% of its peak slope ...
    assert 0 < gan["value_at_4"] < 0.01
    assert 0 < gan["relative_grad_at_4"] < 0.03
    # ... while the clipped critic keeps at least 10% of its peak slope: 4x or more the GAN's, relatively.
    assert 0.1 < wgan["relative_grad_at_4"] <= 1.0
    section = critic_response.collect(plan, tmp_path)
    ratio = json.loads((tmp_path / "summary.json").read_text())["relative_grad_ratio_gan_over_wgan"]
    assert ratio[0] < 0.25
    # The curves the figure draws are the ones measured: the response at x = 4 holds the slope of the result.
    curve = read_csv(plan.folder(tmp_path, plan.find(objective="gan")[0]) / "response.csv")
    x4 = min(curve, key=lambda r: abs(float(r["x"]) - 4.0))
    assert_close(float(x4["dvalue_dx"]), gan["grad_at_4"])
    assert (tmp_path / "plots" / "critic_response.png").exists() and section.figures


def test_same_seed_same_numbers(tmp_path, in_process):
    plan = small_plan(5)
    for name in ("a", "b"):
        in_process(plan, tmp_path / name)
    for run in plan.runs:
        a, b = (plan.folder(tmp_path / name, run) / "response.csv" for name in ("a", "b"))
        assert a.read_bytes() == b.read_bytes()
