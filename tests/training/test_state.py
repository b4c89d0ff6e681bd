import pytest
import torch

from wganlab.errors import ConfigError
from wganlab.models import build_networks
from wganlab.training.distributed import DistContext
from wganlab.training.state import RunningStats, activation_bytes_per_sample, build_state


def test_activation_bytes_per_sample_by_hand(tiny_config):
    # 2 -> 16 -> 16 -> 2 generator and 2 -> 16 -> 16 -> 1 critic (ReLU): autograd keeps, per sample, each Linear's
    # input (2, then the ReLU outputs it shares with the ReLUs: 16 and 16) = 34 floats for the generator and for
    # each of the critic's two passes (on the fake and on the real batch): 3 * 34 floats * 4 bytes = 408.
    config = tiny_config("wgan-gp", "model.generator_widths=16,16", "model.critic_widths=16,16")
    generator, critic = build_networks(config.model, (2,), torch.Generator().manual_seed(0), is_image=False)
    assert activation_bytes_per_sample(generator, critic, 2, (2,)) == 408


def test_a_batch_larger_than_memory_is_refused_with_its_numbers(tiny_config, monkeypatch):
    import wganlab.data.images

    monkeypatch.setattr(wganlab.data.images, "available_memory_bytes", lambda: 4_000_000)
    config = tiny_config(
        "wgan-gp", "model.generator_widths=16,16", "model.critic_widths=16,16", "train.batch_size=10000"
    )
    message = (
        r"^train.batch_size=10000 needs at least 4.1 MB for one step's activations \(408 bytes per sample\) but "
        r"4.0 MB is free on cpu; lower train.batch_size$"
    )
    with pytest.raises(ConfigError, match=message):
        build_state(config, DistContext.local(), progress=False)
    build_state(tiny_config("wgan-gp", "train.batch_size=9000", "model.generator_widths=16,16",
                            "model.critic_widths=16,16"), DistContext.local(), progress=False)  # fmt: skip


def test_running_stats_survive_a_checkpoint_round_trip():
    stats = RunningStats()
    stats.add(critic_loss=torch.tensor(1.0), generator_loss=torch.tensor(2.0))
    stats.add(critic_loss=torch.tensor(4.0))
    restored = RunningStats()
    restored.load_state_dict(stats.state_dict(), torch.device("cpu"))
    restored.add(critic_loss=torch.tensor(7.0), generator_loss=torch.tensor(6.0))
    assert restored.means() == {"critic_loss": 4.0, "generator_loss": 4.0}  # (1+4+7)/3 and (2+6)/2
