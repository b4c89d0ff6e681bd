"""The wheel as a new user gets it: built from this checkout, installed into a fresh virtual environment, used
from another directory. It must carry the presets, the typing marker and the commit it was built from.

The fresh environment borrows this environment's dependencies (torch, numpy, ...) through a .pth file, so the
test needs no network and no second torch; the wheel itself is installed with pip, without dependencies, and
this checkout's `src/` is not on the path. (That a plain `pip install wganlab-*.whl` resolves the dependencies
from PyPI is checked by hand: see the README's install line.)
"""

import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run(argv: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    result = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    assert result.returncode == 0, f"{' '.join(argv)} failed:\n{result.stdout}\n{result.stderr}"
    return result


def build_wheel(out: Path) -> Path:
    try:
        import setuptools

        usable = int(setuptools.__version__.split(".")[0]) >= 77  # SPDX license strings
    except ImportError:
        usable = False
    # Without a usable setuptools here, pip fetches one into an isolated build environment (needs the index).
    isolation = ["--no-build-isolation"] if usable else []
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", *isolation, "-q", "-w", str(out), str(ROOT)], ROOT,
        os.environ.copy())  # fmt: skip
    wheels = list(out.glob("wganlab-*.whl"))
    assert len(wheels) == 1
    return wheels[0]


def git_head() -> str | None:
    result = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    return result.stdout.strip() if result.returncode == 0 and (ROOT / ".git").exists() else None


@pytest.mark.slow
def test_the_wheel_installs_and_trains_a_preset_and_runs_a_study_from_elsewhere(tmp_path):
    wheel = build_wheel(tmp_path / "dist")
    names = zipfile.ZipFile(wheel).namelist()
    presets = sorted(name for name in names if name.startswith("wganlab/configs/") and name.endswith(".toml"))
    assert len(presets) == len(list((ROOT / "src" / "wganlab" / "configs").glob("*/*.toml"))) >= 40
    assert {"wganlab/py.typed", "wganlab/cli.py"} <= set(names)
    assert any(name.endswith("licenses/LICENSE") for name in names)
    assert not any(name.startswith(("tests/", "benchmarks/")) for name in names)
    # Exactly the modules of src/wganlab: an in-tree build reuses build/lib, where a deleted module would linger.
    source = {p.relative_to(ROOT / "src").as_posix() for p in (ROOT / "src" / "wganlab").rglob("*.py")}
    assert {name for name in names if name.endswith(".py")} == source, "stale build/? remove it and rebuild"

    venv = tmp_path / "venv"
    # Nothing of this checkout on the path (a developer's PYTHONPATH=src would make pip and Python see it).
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env.update(OMP_NUM_THREADS="1", PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], tmp_path, env)
    borrowed = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (Path(purelib.stdout.strip()) / "_borrowed_dependencies.pth").write_text("\n".join(sorted(borrowed)) + "\n")
    run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", "--no-index", str(wheel)],
        tmp_path, env)  # fmt: skip

    elsewhere = tmp_path / "user"
    elsewhere.mkdir()
    wganlab = str(venv / "bin" / "wganlab")

    where = run([str(python), "-c", "import wganlab; print(wganlab.__file__)"], elsewhere, env).stdout.strip()
    assert Path(where).is_relative_to(venv), where  # the installed copy, not this checkout
    assert run([wganlab, "--version"], elsewhere, env).stdout.strip() == "wganlab 0.1.0"
    listed = run([wganlab, "presets"], elsewhere, env).stdout.splitlines()
    assert len(listed) == len(presets) and any(line.startswith("eight_gaussians/wgan-gp ") for line in listed)

    tiny = ["model.generator_widths=16,16", "model.critic_widths=16,16", "train.batch_size=16", "log.progress=false"]
    run([wganlab, "train", "eight_gaussians/wgan-gp", "--train.steps=3", *tiny, "--out", "run"], elsewhere, env)
    facts = json.loads((elsewhere / "run" / "run.json").read_text())
    assert facts["source"] == "wheel"
    if git_head() is not None:
        assert facts["git_commit"] == git_head()  # baked in at build time by setup.py
    assert (elsewhere / "run" / "log.txt").is_file() and (elsewhere / "run" / "outcome.json").is_file()

    # critic-response-1d loads its presets by name inside `wganlab study ... --task` subprocesses.
    run([wganlab, "study", "critic-response-1d", "--quick", "--jobs", "2", "--out", "study"], elsewhere, env)
    report = (elsewhere / "study" / "report.md").read_text()
    assert "quick size" in report and "(plots/" in report


TREE_LIMIT_MIB = 40


def test_the_tracked_tree_stays_small_enough_to_travel():
    # A GPU machine receives the tracked tree plus what is carried with it (wheels, data), 64 MiB in all: the tree
    # keeps to 40 MiB so that the rest fits. Records without checkpoints, one format per figure, linked pictures.
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout (an installed wheel has no tree to measure)")
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    files = [ROOT / name for name in listed.decode().split("\0") if name]
    sizes = {file: file.stat().st_size for file in files if file.is_file() and not file.is_symlink()}
    total = sum(sizes.values())
    largest = ", ".join(
        f"{f.relative_to(ROOT)} {s / 2**20:.1f} MiB" for f, s in sorted(sizes.items(), key=lambda i: -i[1])[:5]
    )
    assert total <= TREE_LIMIT_MIB * 2**20, f"tracked files hold {total / 2**20:.1f} MiB; largest: {largest}"
