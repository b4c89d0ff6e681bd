"""run.json's provenance: the commit only from wganlab's own checkout (or the wheel built from it)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from wganlab import provenance


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def make_repo(root: Path, project: str) -> Path:
    """A git repository holding pyproject.toml for `project` and src/wganlab/__init__.py, committed."""
    (root / "src" / "wganlab").mkdir(parents=True)
    (root / "pyproject.toml").write_text(f'[project]\nname = "{project}"\n')
    (root / "src" / "wganlab" / "__init__.py").write_text("")
    git("init", "-q", cwd=root)
    git("add", ".", cwd=root)
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "first", cwd=root)
    return root / "src" / "wganlab"


@pytest.fixture
def package_at(monkeypatch):
    def place(package: Path) -> None:
        monkeypatch.setattr(provenance, "PACKAGE", package)
        monkeypatch.setattr(provenance, "BUILD_INFO", package / "_build.json")
        provenance.source_revision.cache_clear()

    yield place
    provenance.source_revision.cache_clear()


def test_own_checkout_gives_its_commit_and_dirty_flag(tmp_path, package_at):
    package = make_repo(tmp_path / "wganlab", "wganlab")
    package_at(package)
    head = git("rev-parse", "HEAD", cwd=tmp_path / "wganlab")
    assert provenance.source_revision() == {"git_commit": head, "git_dirty": False, "source": "checkout"}
    (package / "__init__.py").write_text("# edited\n")
    provenance.source_revision.cache_clear()
    assert provenance.source_revision() == {"git_commit": head, "git_dirty": True, "source": "checkout"}


def test_another_repository_around_the_package_gives_no_commit(tmp_path, package_at):
    # wganlab's source copied into someone else's project, which is the git repository here.
    package = make_repo(tmp_path / "their-project", "their-project")
    package_at(package)
    assert provenance.source_revision() == {"git_commit": None, "git_dirty": None, "source": "unknown"}


def test_an_installed_wheel_gives_the_commit_it_was_built_from(tmp_path, package_at):
    package = tmp_path / "site-packages" / "wganlab"
    package.mkdir(parents=True)
    package_at(package)
    assert provenance.source_revision()["git_commit"] is None
    (package / "_build.json").write_text(json.dumps({"git_commit": "abc123", "git_dirty": False}))
    provenance.source_revision.cache_clear()
    assert provenance.source_revision() == {"git_commit": "abc123", "git_dirty": False, "source": "wheel"}


def test_versions_and_threads_name_what_changes_results(monkeypatch):
    import numpy
    import scipy
    import torch

    found = provenance.versions()
    assert (found["torch"], found["numpy"], found["scipy"]) == (torch.__version__, numpy.__version__, scipy.__version__)
    assert found["POT"] is not None
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    assert provenance.thread_settings()["OMP_NUM_THREADS"] == "3"
    assert provenance.thread_settings()["MKL_NUM_THREADS"] is None


def test_the_host_names_the_kernels_that_round_its_floats():
    # Two CPUs with one model name may run different ATen kernels (AVX-512 or AVX2), and a training run's float
    # rounding follows them: run.json says which ran. ATEN_CPU_CAPABILITY lowers it, as it lowers the kernels.
    import torch

    assert provenance.host()["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    probe = "from wganlab import provenance; print(provenance.host()['cpu_capability'])"
    forced = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                            env={**os.environ, "ATEN_CPU_CAPABILITY": "default"})  # fmt: skip
    assert forced.stdout.strip() == "DEFAULT"
