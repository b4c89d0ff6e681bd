"""allocator.fix_thresholds: glibc's mmap threshold is fixed when training starts (speed.md, Run 8), the user's own
settings stand, and run.json records what was set."""

import ctypes
import json
import subprocess
import sys

import pytest

from wganlab import allocator

GLIBC = sys.platform.startswith("linux") and hasattr(ctypes.CDLL(None), "mallinfo2")

# In a fresh interpreter: is an 8 MiB malloc served by mmap (mallinfo2's hblkhd grows)? Then, after the call (or
# without it), a 24 MiB one? glibc alone raises its threshold to the 8 MiB block freed, so 24 MiB is mapped again;
# with the threshold fixed at 32 MiB it comes from the heap.
PROBE = """
import ctypes, json, os
from wganlab import allocator

class Info(ctypes.Structure):
    names = "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost"
    _fields_ = [(name, ctypes.c_size_t) for name in names.split()]

libc = ctypes.CDLL(None)
libc.mallinfo2.restype, libc.malloc.restype = Info, ctypes.c_void_p
libc.malloc.argtypes, libc.free.argtypes = (ctypes.c_size_t,), (ctypes.c_void_p,)

def mapped_by_a_malloc_of(n):
    before = libc.mallinfo2().hblkhd
    block = libc.malloc(n)
    grew = libc.mallinfo2().hblkhd - before
    libc.free(block)
    return grew >= n

first = mapped_by_a_malloc_of(8 << 20)
applied = allocator.fix_thresholds() if os.environ["PROBE_FIX"] == "1" else "not called"
print(json.dumps({"before": first, "applied": applied, "after": mapped_by_a_malloc_of(24 << 20)}))
"""


def probe(env: dict, fix: bool = True) -> dict:
    env = {**env, "PROBE_FIX": "1" if fix else "0"}
    done = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


@pytest.mark.skipif(not GLIBC, reason="glibc's allocator only")
def test_an_8_mib_block_comes_from_the_heap_once_the_thresholds_are_fixed(monkeypatch):
    import os

    env = {k: v for k, v in os.environ.items() if k not in allocator.USER_SETTINGS and k != "GLIBC_TUNABLES"}
    # glibc's default: a block above 128 KiB (the threshold before any such free) is mapped.
    assert probe(env, fix=False) == {"before": True, "applied": "not called", "after": True}
    assert probe(env) == {"before": True, "applied": allocator.THRESHOLDS, "after": False}


@pytest.mark.skipif(not GLIBC, reason="glibc's allocator only")
def test_the_users_own_setting_stands(monkeypatch):
    import os

    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": str(64 << 10)}  # 64 KiB, fixed: every larger block mapped
    assert probe(env) == {"before": True, "applied": None, "after": True}
    monkeypatch.setenv("GLIBC_TUNABLES", "glibc.malloc.trim_threshold=0")
    assert allocator.fix_thresholds() is None and allocator.applied() is None


def test_run_json_records_what_was_set(tmp_path, monkeypatch):
    from wganlab.config import load_config
    from wganlab.training.loop import train

    for name in allocator.USER_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    config = load_config("eight_gaussians/gan", ["train.steps=2", "log.progress=false", "log.tensorboard=false"])
    train(config, tmp_path / "run")
    facts = json.loads((tmp_path / "run" / "run.json").read_text())
    assert facts["malloc_thresholds"] == (allocator.THRESHOLDS if GLIBC else None)
