"""Where wganlab's code came from and what it runs on: for run.json and the reports' headers.

The git commit is reported only when the package runs from a checkout of its own repository (src/wganlab
inside a folder with `.git` and wganlab's pyproject.toml), never that of another repository the package
happens to sit in; a wheel built from a checkout carries its commit in `wganlab/_build.json` (written by
setup.py at build time). Torch-free, like the rest of the base layer.
"""

import functools
import json
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

PACKAGE = Path(__file__).resolve().parent
BUILD_INFO = PACKAGE / "_build.json"
# Distributions whose versions change results; "POT" is the exact W1's solver.
VERSIONED = ("torch", "numpy", "scipy", "POT", "safetensors", "pillow", "matplotlib")
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def own_checkout() -> Path | None:
    """The root of wganlab's own git checkout when the package runs from one (an editable install), else None."""
    root = PACKAGE.parents[1]  # <root>/src/wganlab
    if PACKAGE.parent.name != "src" or not (root / ".git").exists():
        return None
    try:
        pyproject = (root / "pyproject.toml").read_text(encoding="utf-8")
    except OSError:
        return None
    return root if 'name = "wganlab"' in pyproject else None


def git_revision(root: Path) -> tuple[str, bool] | None:
    """(commit, dirty) of the checkout at `root`; dirty means tracked files differ from the commit."""
    try:
        git = {"capture_output": True, "text": True, "timeout": 10, "cwd": root}
        commit = subprocess.run(["git", "rev-parse", "HEAD"], **git).stdout.strip()
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], **git)
    except (OSError, subprocess.SubprocessError):
        return None
    if not commit or status.returncode != 0:
        return None
    return commit, bool(status.stdout.strip())


@functools.cache
def source_revision() -> dict[str, Any]:
    """{"git_commit": str | None, "git_dirty": bool | None, "source": "checkout" | "wheel" | "unknown"}."""
    root = own_checkout()
    if root is not None:
        revision = git_revision(root)
        if revision is not None:
            return {"git_commit": revision[0], "git_dirty": revision[1], "source": "checkout"}
    if BUILD_INFO.is_file():
        try:
            built = json.loads(BUILD_INFO.read_text())
            return {"git_commit": built.get("git_commit"), "git_dirty": built.get("git_dirty"), "source": "wheel"}
        except ValueError:
            pass
    return {"git_commit": None, "git_dirty": None, "source": "unknown"}


def versions() -> dict[str, str | None]:
    """Installed versions of the libraries that change results (None where one is not installed)."""
    found: dict[str, str | None] = {}
    for name in VERSIONED:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def thread_settings() -> dict[str, str | None]:
    """The environment's thread limits (OMP_NUM_THREADS, ...), None where unset."""
    return {name: os.environ.get(name) for name in THREAD_VARIABLES}


def cpu_name() -> str:
    """The CPU's model name (/proc/cpuinfo on Linux), else what `platform` knows."""
    try:
        with open("/proc/cpuinfo") as handle:
            return next(line.split(":", 1)[1].strip() for line in handle if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def host() -> dict[str, Any]:
    return {
        "host": platform.node(),
        "cpu": cpu_name(),
        "platform": platform.platform(),
        "cpu_count": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu_capability": cpu_capability(),
    }


def cpu_capability() -> str:
    """The vector instructions ATen's CPU kernels use here ("AVX512", "AVX2", "DEFAULT"; ATEN_CPU_CAPABILITY may
    lower it). Two hosts both called "AMD EPYC" may differ in it, and then a CPU training run's float rounding,
    hence its trajectory, differs too: a re-run matches a record bit for bit only on the same capability."""
    import torch

    return torch.backends.cpu.get_cpu_capability()
