"""train.channels_last: the networks' convolution weights and the image batches in NHWC layout. The same
computation as the default layout up to summation order (checked against it within fp32 rounding), resumed bit
for bit, and its weights readable by everything that loads a generator."""

import hashlib

import torch
from torch.testing import assert_close

from wganlab.api import load_generator
from wganlab.config import load_config
from wganlab.training import loop
from wganlab.training.distributed import DistContext
from wganlab.training.run_folder import RunFolder
from wganlab.training.state import build_state, seeded_global_rngs

# Fashion-MNIST at 32 px, tiny DCGANs (batch norm in the generator, none in the critic: the image cells' shape).
IMAGES = [
    "data.source=idx", "data.pad=2", "data.channels=1", "model.architecture=dcgan", "model.channels=8",
    "model.z_dim=16", "model.critic_norm=none", "train.batch_size=16", "train.device=cpu", "log.progress=false",
    "log.tensorboard=false", "objective.name=wgan-gp",
]  # fmt: skip
NHWC = "train.channels_last=true"
# The layouts sum the same products in another order. float32 rounds each addition by at most 2^-24, so a sum of n
# terms is off by at most n * 2^-24 of the sum of their magnitudes (Higham's gamma_n). The longest sums here are
# the first critic layer's weight gradient: batch 16 x 16 x 16 output positions = 4,096 terms, chained through
# the penalty's double backward (about 4 such sums in a row): 4 * 4096 * 2^-24 ~ 1e-3 of a tensor's scale.
LAYOUT_TOLERANCE = 4 * 4096 * 2**-24


def first_critic_step(layout: list[str]):
    config = load_config(None, [*IMAGES, *layout])
    with seeded_global_rngs(config.train.seed):
        s = build_state(config, DistContext.local(), progress=False)
        real = s.real_batch()
        loop.critic_step(s, real)
    return s, real


def test_weights_and_batches_are_channels_last_and_the_default_is_unchanged():
    s, real = first_critic_step([NHWC])
    convolutions = [p for p in s.critic.network.parameters() if p.dim() == 4]
    convolutions += [p for p in s.generator.network.parameters() if p.dim() == 4]
    assert convolutions and all(p.is_contiguous(memory_format=torch.channels_last) for p in convolutions)
    assert real.is_contiguous(memory_format=torch.channels_last)  # (one channel: both layouts are the same bytes)
    plain, plain_real = first_critic_step([])
    assert plain_real.is_contiguous() and all(p.is_contiguous() for p in plain.critic.network.parameters())
    assert torch.equal(real, plain_real)  # the same images, only laid out differently


def test_a_critic_step_matches_the_default_layout_within_fp32_rounding():
    s, _ = first_critic_step([NHWC])
    plain, _ = first_critic_step([])
    assert any(p.grad.abs().max() > 0 for p in plain.critic.network.parameters())
    for (name, p), q in zip(s.critic.network.named_parameters(), plain.critic.network.parameters(), strict=True):
        scale = q.grad.abs().max().item()  # 0 for the last bias: the Wasserstein loss and the penalty ignore it
        assert_close(p.grad, q.grad, rtol=0.0, atol=LAYOUT_TOLERANCE * scale, msg=name)
    assert_close(s.stats.means(), plain.stats.means(), rtol=LAYOUT_TOLERANCE, atol=0.0)


def digest(s) -> str:
    h = hashlib.sha256()
    for network in (s.generator.network, s.critic.network):
        for name, value in network.state_dict().items():
            h.update(name.encode())
            h.update(value.detach().contiguous().numpy().tobytes())
    for player in (s.generator, s.critic):
        for state in player.optimizer.state.values():
            for value in state.values():
                if torch.is_tensor(value):
                    h.update(value.detach().contiguous().numpy().tobytes())
    return h.hexdigest()


def test_resume_with_channels_last_continues_bitwise_and_the_generator_loads_anywhere(tmp_path):
    common = [*IMAGES, NHWC, "log.log_every=2", "log.checkpoint_every=2", "log.sample_every=100"]
    whole = loop.train(load_config(None, [*common, "train.steps=4"]), tmp_path / "whole", progress=False)
    loop.train(load_config(None, [*common, "train.steps=2"]), tmp_path / "split", progress=False)
    resumed = loop.train(load_config(None, [*common, "train.steps=4"]), tmp_path / "split", resume=True,
                         progress=False)  # fmt: skip
    assert digest(whole) == digest(resumed)
    assert RunFolder(tmp_path / "whole").records() == RunFolder(tmp_path / "split").records()
    # generator.safetensors holds plain contiguous tensors: a generator built in the default layout loads it.
    generator = load_generator(tmp_path / "whole")
    for name, value in generator.state_dict().items():
        assert torch.equal(value, whole.generator.network.state_dict()[name]), name
