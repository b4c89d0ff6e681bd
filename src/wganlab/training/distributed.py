"""The process layout under torchrun (or a single process), read once and passed down."""

import os
import sys
from dataclasses import dataclass
from typing import NoReturn

import torch
import torch.distributed as torch_dist

from wganlab.errors import ConfigError


@dataclass(frozen=True)
class DistContext:
    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @classmethod
    def local(cls, device: torch.device | str = "cpu") -> "DistContext":
        """One process on one device (what a script or a notebook uses)."""
        return cls(rank=0, world_size=1, local_rank=0, device=torch.device(device))

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def is_distributed(self) -> bool:
        return self.world_size > 1


def resolve_device(choice: str, local_rank: int = 0) -> torch.device:
    if choice == "auto":
        return torch.device(f"cuda:{local_rank}") if torch.cuda.is_available() else torch.device("cpu")
    if choice.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"train.device={choice!r} but no CUDA device is visible; use train.device=cpu")
    if choice == "cuda":
        return torch.device(f"cuda:{local_rank}")
    return torch.device(choice)


MAX_PROCESSES = 1 << 20


def environment_integer(name: str, default: int, low: int, high: int) -> int:
    """torchrun's variable `name` as an integer in [low, high] (`default` when unset); one-line ConfigError
    naming it otherwise (WORLD_SIZE=abc used to end in a ValueError traceback)."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        raise ConfigError(
            f"{name}={raw!r} in the environment must be an integer from {low} to {high}; torchrun sets it: "
            f"unset it to train in one process, or start the run with torchrun"
        )
    return value


def init_distributed(device_choice: str) -> DistContext:
    """Read torchrun's environment (RANK, WORLD_SIZE, LOCAL_RANK); start the process group if there is one."""
    world_size = environment_integer("WORLD_SIZE", 1, 1, MAX_PROCESSES)
    rank = environment_integer("RANK", 0, 0, world_size - 1)
    local_rank = environment_integer("LOCAL_RANK", 0, 0, world_size - 1)
    if world_size > 1:
        environment_integer("MASTER_PORT", 29500, 1, 65535)
        if not os.environ.get("MASTER_ADDR"):
            raise ConfigError(f"WORLD_SIZE={world_size} but MASTER_ADDR is not set; start the run with torchrun")
    device = resolve_device(device_choice, local_rank)
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise ConfigError(
            f"LOCAL_RANK={local_rank} asks for {device} but {torch.cuda.device_count()} CUDA device(s) are visible; "
            "start at most that many processes per node"
        )
    if world_size > 1 and not torch_dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        torch_dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return DistContext(rank=rank, world_size=world_size, local_rank=local_rank, device=device)


_backend_threads_left = False
"""Set once this process has ended a process group that DDP used: its backend's threads are still running."""


def shutdown_distributed(context: DistContext) -> None:
    global _backend_threads_left
    if context.is_distributed and torch_dist.is_initialized():
        # Without the barrier, gloo sometimes aborts at exit while a peer is still tearing down.
        torch_dist.barrier()
        torch_dist.destroy_process_group()
        _backend_threads_left = True


def exit_process(code: int) -> NoReturn:
    """End the process with `code`; after a distributed run, without the C++ runtime's teardown.

    A DistributedDataParallel wrapper keeps its process group's backend alive past destroy_process_group (torch
    2.13, gloo: the threads gloo_tcp_loop and two pt_gloo_runloop still run after it, even with every module
    freed; without DDP they end). The backend is then torn down by the C++ runtime at exit, under those running
    threads, and a rank now and then aborted there ("terminate called without an active exception", SIGABRT, in
    about 1 of 15 to 1 of 150 two-process runs), so torchrun reported a finished run as failed. Every file is
    closed by then, so the process leaves with os._exit once stdout and stderr are flushed."""
    if not _backend_threads_left:
        raise SystemExit(code)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
