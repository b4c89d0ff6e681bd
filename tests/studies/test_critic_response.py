import torch
from torch.testing import assert_close

from wganlab.objectives import StandardGAN, Wasserstein, WeightClip
from wganlab.studies import critic_response

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


def test_gan_gradient_vanishes_at_4_but_wgan_does_not():
    rows, summary = critic_response.measure(300, 0, points=201, **SMALL)
    gan, wgan = summary["gan"], summary["wgan"]
    # Both learned the direction: real (x = -1) scores above fake (x = +1).
    assert gan["value_at_minus_1"] > 0.5 > gan["value_at_plus_1"]
    assert wgan["value_at_minus_1"] > wgan["value_at_plus_1"]
    # D has saturated at x = 4 (D < 0.01) and its slope there is under 3% of its peak slope ...
    assert 0 < gan["value_at_4"] < 0.01
    assert 0 < gan["relative_grad_at_4"] < 0.03
    # ... while the clipped critic keeps at least 10% of its peak slope: 4x or more the GAN's, relatively.
    assert 0.1 < wgan["relative_grad_at_4"] <= 1.0
    assert summary["relative_grad_ratio_gan_over_wgan"] < 0.25
    # The table rows are the curves the figure draws.
    x4 = min(rows, key=lambda r: abs(r["x"] - 4.0))
    assert_close(x4["gan_dD_dx"], gan["grad_at_4"])
    assert_close(x4["wgan_df_dx"], wgan["grad_at_4"])


def test_same_seed_same_numbers():
    first = critic_response.measure(5, 3, points=11, **SMALL)
    second = critic_response.measure(5, 3, points=11, **SMALL)
    assert first == second
