"""Two gloo processes match one process on the global batch; torchrun writes the run folder once and a run
started on two processes resumes on one.

Every process draws the global batch of toy samples, z and penalty mixes and keeps rows rank, rank + world,
..., so in float64 the only difference between 2 processes and 1 is the order in which DDP sums gradients.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as torch_dist
import torch.multiprocessing as mp
from torch.nn.parallel import DistributedDataParallel
from torch.testing import assert_close

from wganlab import cli
from wganlab.config import load_config
from wganlab.training import loop
from wganlab.training.checkpoint import load_checkpoint
from wganlab.training.distributed import DistContext, shutdown_distributed
from wganlab.training.state import build_state

ROOT = Path(__file__).resolve().parents[2]
OBJECTIVES = ("gan", "wgan", "wgan-gp", "sngan")
TINY = [
    "model.generator_widths=16,16",
    "model.critic_widths=16,16",
    "train.batch_size=8",
    "train.device=cpu",
    "log.progress=false",
    "log.tensorboard=false",
]
# float64: the two layouts differ only in summation order (about 1e-16 relative per operation).
FLOAT64_TOLERANCE = {"rtol": 1e-10, "atol": 1e-12}


def one_step_parameters(objective: str, dist: DistContext) -> dict[str, torch.Tensor]:
    """Parameters of both networks after one step (its n_critic critic updates and one generator update)."""
    # Large learning rates so that one step moves the parameters far from their init.
    config = load_config(None, [f"objective.name={objective}", *TINY, "optim.critic_lr=0.01"])
    s = build_state(config, dist, progress=False)
    loop.train_step(s)
    if dist.is_distributed:
        assert isinstance(s.critic.wrapped, DistributedDataParallel)
        assert isinstance(s.generator.wrapped, DistributedDataParallel)
    return {
        **{f"generator.{k}": v.detach().clone() for k, v in s.generator.network.state_dict().items()},
        **{f"critic.{k}": v.detach().clone() for k, v in s.critic.network.state_dict().items()},
    }


def _worker(rank: int, world_size: int, out_dir: str) -> None:
    torch.set_num_threads(1)
    torch.set_default_dtype(torch.float64)
    # Rendezvous through a file, not a TCP port: a port found free by one process can be taken by another
    # before gloo binds it, which failed this fixture once on a busy machine.
    store = (Path(out_dir) / "rendezvous").as_posix()
    torch_dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world_size)
    dist = DistContext(rank=rank, world_size=world_size, local_rank=rank, device=torch.device("cpu"))
    try:
        results = {objective: one_step_parameters(objective, dist) for objective in OBJECTIVES}
        torch.save(results, Path(out_dir) / f"rank{rank}.pt")
    finally:
        shutdown_distributed(dist)


@pytest.fixture(scope="module")
def two_process_parameters(tmp_path_factory):
    out = tmp_path_factory.mktemp("ddp")
    mp.start_processes(_worker, args=(2, str(out)), nprocs=2, join=True, start_method="spawn")
    return [torch.load(out / f"rank{rank}.pt", weights_only=True) for rank in range(2)]


@pytest.fixture(scope="module")
def one_process_parameters():
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        single = DistContext.local()
        return {objective: one_step_parameters(objective, single) for objective in OBJECTIVES}
    finally:
        torch.set_default_dtype(previous)


@pytest.mark.parametrize("objective", OBJECTIVES)
def test_ranks_hold_identical_parameters(two_process_parameters, objective):
    rank0, rank1 = (results[objective] for results in two_process_parameters)
    assert rank0.keys() == rank1.keys()
    for name in rank0:
        assert_close(rank1[name], rank0[name], rtol=0, atol=0, msg=name)


@pytest.mark.parametrize("objective", OBJECTIVES)
def test_two_processes_match_one_process_on_the_global_batch(two_process_parameters, one_process_parameters, objective):
    ddp, single = two_process_parameters[0][objective], one_process_parameters[objective]
    assert ddp.keys() == single.keys()
    for name in single:
        assert ddp[name].dtype == torch.float64
        assert_close(ddp[name], single[name], **FLOAT64_TOLERANCE, msg=name)
    # The step moved the parameters: matching an untrained network would prove nothing.
    moved = max((single[n] - p).abs().max() for n, p in initial_parameters(objective).items())
    assert moved > 1e-4


def initial_parameters(objective: str) -> dict[str, torch.Tensor]:
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        config = load_config(None, [f"objective.name={objective}", *TINY])
        single = DistContext.local()
        s = build_state(config, single, progress=False)
        return {
            **{f"generator.{k}": v for k, v in s.generator.network.state_dict().items()},
            **{f"critic.{k}": v for k, v in s.critic.network.state_dict().items()},
        }
    finally:
        torch.set_default_dtype(previous)


# --- torchrun smoke: the real CLI on two processes, then a resume on one ---------------------------------

SMOKE = [
    "configs/eight_gaussians/wgan-gp.toml",
    *TINY,
    "log.log_every=2",
    "log.sample_every=100",
    "log.checkpoint_every=2",
    "log.eval_every=0",
    # A wide init keeps the gradients far from cancelling, so float32 rounding stays at the 1e-9 level.
    "model.init_std=0.5",
]


def _run(command: list[str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{' '.join(command)} failed:\n{done.stderr[-3000:]}"
    return done


def _network_parameters(run_dir: Path) -> dict[str, torch.Tensor]:
    payload = load_checkpoint(run_dir / "checkpoints" / "latest.pt")
    return {
        **{f"generator.{k}": v for k, v in payload["generator"].items()},
        **{f"critic.{k}": v for k, v in payload["critic"].items()},
    }


@pytest.mark.slow  # long: the slow tier (CI runs it) keeps it
def test_torchrun_writes_the_run_once_and_resumes_on_one_process(tmp_path):
    two = tmp_path / "two"
    torchrun = [sys.executable, "-m", "torch.distributed.run"]  # what `torchrun` runs, without needing PATH
    _run([*torchrun, "--standalone", "--nproc_per_node=2", "-m", "wganlab", "train", *SMOKE,
          "--out", str(two), "train.steps=4"])  # fmt: skip
    facts = json.loads((two / "run.json").read_text())
    assert facts["world_size"] == 2
    records = [json.loads(line) for line in (two / "metrics.jsonl").read_text().splitlines()]
    assert [(r["step"], r["kind"]) for r in records] == [(2, "train"), (4, "train")]  # one writer
    assert records[-1]["images_seen"] == 4 * 5 * 8  # steps x n_critic x global batch
    assert sorted(p.name for p in (two / "checkpoints").glob("step-*.pt")) == [
        "step-00000002.pt",
        "step-00000004.pt",
    ]
    assert (two / "command.txt").read_text().count("\n") == 1

    # World size 2 -> 1 on resume: toy batches, z and mixes are drawn globally, so the run continues as if
    # it had always been on one process (image data refuses instead: ImageBatches' DataError).
    # In this process (the same CLI entry point, without an interpreter start): world size 1.
    assert cli.main(["train", *SMOKE, "--out", str(two), "--resume", "train.steps=6"]) == 0
    one = tmp_path / "one"
    assert cli.main(["train", *SMOKE, "--out", str(one), "train.steps=6"]) == 0
    assert json.loads((two / "metrics.jsonl").read_text().splitlines()[-1])["step"] == 6
    resumed, straight = _network_parameters(two), _network_parameters(one)
    assert load_checkpoint(two / "checkpoints" / "latest.pt")["step"] == 6
    for name in straight:
        # float32 rounding of the 2-process gradient sums in the first 4 steps (measured: about 2e-9); a
        # stream that restarted or skipped on resume would differ by about lr = 1e-4 per step.
        assert_close(resumed[name], straight[name], rtol=1e-5, atol=1e-7, msg=name)


def test_default_init_is_seeded_so_every_process_starts_alike():
    """init_std 0 keeps PyTorch's default init, which draws from the global RNG; build_networks seeds it
    from the run's init stream, so two processes (or two runs) build the same networks."""
    from wganlab.models import build_networks

    config = load_config(None, ["model.init_std=0", *TINY])
    torch.manual_seed(1)
    first = build_networks(config.model, (2,), torch.Generator().manual_seed(7), is_image=False)
    torch.manual_seed(2)  # a different global state, as another process would have
    state = torch.get_rng_state()
    second = build_networks(config.model, (2,), torch.Generator().manual_seed(7), is_image=False)
    assert torch.equal(torch.get_rng_state(), state)  # the caller's global RNG is left alone
    for one, two in zip(first, second, strict=True):
        assert_close(list(two.parameters()), list(one.parameters()), rtol=0, atol=0)


@pytest.mark.parametrize("after_distributed", [False, True])
def test_exit_process_skips_the_teardown_only_after_a_distributed_run(after_distributed):
    # After a process group that DDP used, the backend's threads outlive destroy_process_group, so the process
    # leaves with os._exit: atexit handlers (and the C++ runtime's teardown) do not run; otherwise a normal exit.
    script = (
        "import atexit, sys\n"
        "from wganlab.training import distributed\n"
        "atexit.register(lambda: print('teardown ran'))\n"
        f"distributed._backend_threads_left = {after_distributed}\n"
        "print('flushed first', end='')\n"
        "distributed.exit_process(3)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 3
    assert done.stdout == ("flushed first" if after_distributed else "flushed firstteardown ran\n")


@pytest.mark.slow  # two torchrun starts: about half a minute
def test_a_resume_refused_under_torchrun_stops_every_process(tmp_path):
    # Process 0 checks the folder before anything changes (a damaged metrics.jsonl here); the other process must
    # stop with the same refusal, not wait forever at the first collective.
    run = tmp_path / "run"
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    _run([*torchrun, "-m", "wganlab", "train", *SMOKE, "--out", str(run), "train.steps=2"])
    lines = (run / "metrics.jsonl").read_text().splitlines()
    (run / "metrics.jsonl").write_text("not json\n" + "\n".join(lines) + "\n")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [*torchrun, "-m", "wganlab", "train", *SMOKE, "--out", str(run), "--resume", "train.steps=4"]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    refusals = [line for line in done.stderr.splitlines() if "metrics.jsonl line 1 is not valid JSON" in line]
    assert len(refusals) == 2, done.stderr[-3000:]  # both processes said why they stopped
