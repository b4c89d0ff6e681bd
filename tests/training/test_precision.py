"""Mixed precision: bf16 against fp32 on CPU, the fp16 loss-scale logic (in fp32 on CPU, fp16 on CUDA only),
and the error for fp16 on CPU."""

import warnings

import pytest
import torch
from torch import nn
from torch.testing import assert_close

from wganlab.config import load_config
from wganlab.errors import ConfigError
from wganlab.models.mlp import MLPCritic
from wganlab.objectives import GradientPenalty
from wganlab.training import loop, state
from wganlab.training import precision as mixed_precision
from wganlab.training.distributed import DistContext
from wganlab.training.precision import autocast, loss_scale
from wganlab.training.state import RunningStats, build_state

CPU = DistContext.local()
TINY = ["model.generator_widths=64,64", "model.critic_widths=64,64", "train.batch_size=64"]
TINY += ["train.device=cpu", "log.progress=false", "log.tensorboard=false", "model.init_std=0.2"]
# bf16 keeps 8 significant bits: each rounding is off by at most 2^-9 (0.2 %) of its value. The penalty's path
# rounds the input and each of the 3 layers' outputs forward, each layer's input-gradient back, and again in the
# double backward: about 15 roundings, so 15 * 2^-9 = 2.9 % bounds the error whatever the kernels' summation
# order (fp32 accumulation inside each matmul adds far less). Measured (AMD EPYC and Intel Xeon with AMX, and
# ATEN_CPU_CAPABILITY=avx2/default): penalty 0.6 %, losses 0.5 %, gradients up to 2.2 % of a tensor's largest entry.
BF16_TOLERANCE = {"rtol": 0.03, "atol": 0.0}


def critic_and_points(seed: int = 0) -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    rng = torch.Generator().manual_seed(seed)
    critic = MLPCritic((2,), (64, 64))
    with torch.no_grad():
        for p in critic.parameters():
            p.normal_(0.0, 0.3, generator=rng)
    real = torch.randn(128, 2, generator=rng)
    fake = torch.randn(128, 2, generator=rng) + 2.0
    return critic, real, fake


def test_bf16_penalty_matches_fp32():
    critic, real, fake = critic_and_points()
    penalty = GradientPenalty(10.0)
    exact = penalty.penalty(critic, real, fake, torch.Generator().manual_seed(1))
    with autocast(torch.device("cpu"), "bf16"):
        low = penalty.penalty(critic, real, fake, torch.Generator().manual_seed(1))
        norms = penalty.gradient_norms(critic, real, fake, torch.Generator().manual_seed(1))
    assert low.dtype == torch.float32 and norms.dtype == torch.float32  # the norm is taken in fp32
    assert_close(low, exact, **BF16_TOLERANCE)
    # Far from zero, so the tolerance is a real test: lambda * E[(|g| - 1)^2] with |g| of order 10.
    assert exact > 1.0


def _step_gradients(precision: str) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """One critic step (WGAN-GP) from the same seed; the gradients it applied and its logged losses."""
    config = load_config(None, ["objective.name=wgan-gp", *TINY, f"train.precision={precision}"])
    s = build_state(config, CPU, progress=False)
    loop.critic_step(s, s.data.next_batch(s.local_batch_size))
    grads = {name: p.grad.clone() for name, p in s.critic.network.named_parameters()}
    assert all(g.dtype == torch.float32 for g in grads.values())  # fp32 master weights and gradients
    return grads, {k: torch.tensor(v) for k, v in s.stats.means().items()}


def test_bf16_critic_step_matches_fp32():
    exact_grads, exact_losses = _step_gradients("fp32")
    low_grads, low_losses = _step_gradients("bf16")
    assert_close(low_losses, exact_losses, rtol=0.03, atol=1e-3)
    for name, exact in exact_grads.items():
        # Per tensor, relative to its largest entry: small entries carry bf16's absolute error.
        scale = exact.abs().max().item()
        assert_close(low_grads[name], exact, rtol=0.0, atol=0.05 * scale, msg=name)


def test_fp16_on_cpu_is_a_one_line_config_error():
    with pytest.raises(ConfigError, match=r"^train\.precision='fp16' is not supported on CPU; use 'bf16'"):
        load_config(None, ["train.precision=fp16", "train.device=cpu"])


@pytest.mark.skipif(torch.cuda.is_available(), reason="device 'auto' resolves to CUDA here")
def test_fp16_with_auto_device_on_a_cpu_machine_is_a_config_error():
    config = load_config(None, ["train.precision=fp16", *TINY[:3], "log.progress=false"])
    with pytest.raises(ConfigError, match=r"^train\.precision='fp16' needs a CUDA device; on CPU use 'bf16'"):
        build_state(config, CPU, progress=False)


def test_penalty_at_a_loss_scale_equals_the_unscaled_penalty():
    """The fp16 recipe (scale, autograd.grad, unscale) is exact arithmetic: in float64 it changes nothing,
    neither the penalty nor the parameter gradient its double backward gives."""
    critic, real, fake = critic_and_points()
    critic, real, fake = critic.double(), real.double(), fake.double()
    penalty = GradientPenalty(10.0)
    results = []
    for scale in (None, torch.tensor(2.0**16, dtype=torch.float64)):
        critic.zero_grad(set_to_none=True)
        penalty.loss_scale = lambda scale=scale: scale
        value = penalty.penalty(critic, real, fake, torch.Generator().manual_seed(1))
        value.backward()
        # The last layer's bias has no gradient: the input-gradient does not depend on it.
        results.append((value.detach(), [p.grad for p in critic.parameters()]))
    (plain, plain_grads), (scaled, scaled_grads) = results
    assert_close(scaled, plain, rtol=1e-12, atol=0)
    assert [g is None for g in scaled_grads] == [g is None for g in plain_grads] == [False] * 5 + [True]
    assert_close(scaled_grads[:-1], plain_grads[:-1], rtol=1e-10, atol=1e-14)


def test_loss_scale_is_a_device_tensor_before_the_first_step():
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**10)
    scale = loss_scale(scaler, torch.device("cpu"))
    assert isinstance(scale, torch.Tensor)
    assert_close(scale, torch.tensor(2.0**10))
    assert loss_scale(torch.amp.GradScaler("cpu", enabled=False), torch.device("cpu")) is None


def test_stats_skip_non_finite_values_of_skipped_steps():
    stats = RunningStats(skip_non_finite=True)
    for value in (1.0, float("inf"), 3.0, float("nan")):
        stats.add(penalty=torch.tensor(value), critic_loss=torch.tensor(float("inf")))
    means = stats.means()
    assert means["penalty"] == 2.0  # (1 + 3) / 2
    assert torch.isnan(torch.tensor(means["critic_loss"]))  # every value bad: divergence still shows


def test_an_overflowing_step_is_skipped_and_the_clip_still_holds():
    """fp16 machinery in fp32 on CPU: a non-finite gradient makes the scaler skip the update and halve its
    scale; the clip after it leaves the (unchanged, already clipped) weights alone."""
    config = load_config(None, ["objective.name=wgan", *TINY, "objective.clip_value=0.01"])
    s = build_state(config, CPU, progress=False)
    s.critic.scaler = torch.amp.GradScaler("cpu", init_scale=2.0**8)
    s.stats = RunningStats(skip_non_finite=True)
    real = s.data.next_batch(s.local_batch_size)
    loop.critic_step(s, real)  # a normal step first
    before = [p.detach().clone() for p in s.critic.network.parameters()]
    bad = real.clone()
    bad[0, 0] = float("inf")
    loop.critic_step(s, bad)
    assert_close([p.detach() for p in s.critic.network.parameters()], before, rtol=0, atol=0)
    assert_close(s.critic.scaler._scale, torch.tensor(2.0**7))
    means = s.stats.means()
    assert torch.isfinite(torch.tensor(means["critic_loss"]))  # the skipped step's loss is left out


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="fp16 autocast with GradScaler needs CUDA")
def test_fp16_critic_step_matches_fp32_on_cuda():
    cuda = DistContext(rank=0, world_size=1, local_rank=0, device=torch.device("cuda"))
    grads = {}
    for precision in ("fp32", "fp16"):
        overrides = ["objective.name=wgan-gp", *TINY, f"train.precision={precision}", "train.device=cuda"]
        s = build_state(load_config(None, overrides), cuda, progress=False)
        loop.critic_step(s, s.data.next_batch(s.local_batch_size))
        # The scaler unscaled the gradients in place before its step; a skipped first step leaves inf.
        grads[precision] = {n: p.grad.clone() for n, p in s.critic.network.named_parameters()}
        assert s.critic.scaler.is_enabled() == (precision == "fp16")
    for name, exact in grads["fp32"].items():
        scale = exact.abs().max().item()
        assert_close(grads["fp16"][name], exact, rtol=0.0, atol=0.01 * scale, msg=name)


def test_compile_is_not_a_setting():
    # torch.compile cannot compile the penalty's double backward and measured no faster on CPU, so there is no
    # train.compile to half-support: the key is unknown.
    with pytest.raises(ConfigError, match=r"unknown key train\.compile in override"):
        load_config(None, [*TINY, "train.compile=true"])


@pytest.mark.parametrize(
    ("avx512_bf16", "amx", "native"), [(False, False, False), (True, False, True), (False, True, True)]
)
def test_native_bf16_on_a_cpu_follows_its_instructions(monkeypatch, avx512_bf16, amx, native):
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx, raising=False)
    assert mixed_precision.native_bf16(torch.device("cpu")) is native


@pytest.mark.parametrize("native", [False, True])
def test_bf16_on_a_cpu_without_bf16_instructions_warns_once_and_still_trains(monkeypatch, native):
    """An AVX2-only CPU emulates bf16 (16x slower than fp32 on the image cell there): the run says so, in one
    warning naming the setting and the way out, and trains as asked; a CPU with AVX512-BF16 or AMX hears nothing."""
    monkeypatch.setattr(state, "native_bf16", lambda device: native)
    config = load_config(None, ["train.precision=bf16", *TINY])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        built = build_state(config, CPU, progress=False)
    said = [str(w.message) for w in caught if "bf16" in str(w.message)]
    if native:
        assert said == []
    else:
        assert len(said) == 1
        assert said[0].startswith("train.precision='bf16' on a CPU without bf16 instructions")
        assert "train.precision=fp32" in said[0]
    assert built.config.train.precision == "bf16"
