"""Every bad input of the reliability issue, table-driven: one line naming the file or option and what to do,
exit code 2 (a divergence has its own, 3), no traceback, and nothing lost in the run folder it touched."""

import errno
import os
import pickle
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import wganlab.files
from wganlab.cli import main
from wganlab.data.images import available_memory_bytes
from wganlab.training.run_folder import RunFolder

SMALL = [
    "model.generator_widths=16,16",
    "model.critic_widths=16,16",
    "train.batch_size=16",
    "train.device=cpu",
    "log.progress=false",
    "log.tensorboard=false",
    "log.eval_samples=64",
    "log.sample_every=1000",
]
MARKER = "pickled-code-ran"
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A finished 4-step toy run with checkpoints at 2 and 4 (copied by each test that changes it)."""
    run = tmp_path_factory.mktemp("bad-inputs") / "run"
    assert main(["train", "eight_gaussians/wgan-gp", "--out", str(run), "train.steps=4", "log.checkpoint_every=2",
                 "log.eval_every=2", *SMALL]) == 0  # fmt: skip
    return run


@pytest.fixture(scope="module")
def image_run(tmp_path_factory) -> Path:
    """A 1-step run on a folder of eight 8x8 images (for `eval --metrics is`, which only images offer)."""
    root = tmp_path_factory.mktemp("images")
    for index in range(8):
        pixels = np.random.default_rng(index).integers(0, 256, (8, 8, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(root / f"{index}.png")
    run = root.parent / "image-run"
    data = [f"data.path={root}", "data.source=folder", "data.image_size=8", "train.steps=1", "log.eval_every=0"]
    assert main(["train", "eight_gaussians/wgan-gp", "--out", str(run), *SMALL, *data, "train.batch_size=4"]) == 0
    return run


class Malicious:
    """Unpickling this calls open(MARKER, "w"): if the file appears, pickled code ran."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


@dataclass
class Case:
    """`setup(tmp_path, trained, image_run)` prepares files and returns the argv; `message` is a regex the one
    error line must match after "wganlab <command>: error: "."""

    setup: Callable[[Path, Path, Path], list[str]]
    message: str
    code: int = 2


def copy_run(trained: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(trained, tmp_path / "run"))


def config_file(tmp_path: Path, content: bytes) -> Path:
    path = tmp_path / "bad.toml"
    path.write_bytes(content)
    return path


def image_folder(tmp_path: Path, link: str) -> Path:
    root = tmp_path / "images"
    root.mkdir()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(root / "a.png")
    if link == "dangling":
        os.symlink(root / "gone.png", root / "b.png")
    else:
        os.symlink(root / "c.png", root / "b.png")
        os.symlink(root / "b.png", root / "c.png")
    return root


def folder_train(root: Path, out: Path) -> list[str]:
    return ["train", "eight_gaussians/wgan-gp", f"data.path={root}", "data.source=folder", "data.image_size=8",
            "--out", str(out), *SMALL]  # fmt: skip


def resume(run: Path, *extra: str) -> list[str]:
    return ["train", str(run / "config.toml"), "--out", str(run), "--resume", *extra]


def corrupt_every_checkpoint(tmp_path: Path, trained: Path, payload: bytes | None = None) -> Path:
    run = copy_run(trained, tmp_path)
    for path in (run / "checkpoints").glob("*.pt"):
        path.unlink()
        if payload is None:
            torch.save({"code": Malicious(tmp_path / MARKER)}, path)
        else:
            path.write_bytes(payload)
    return run


HOLD = (
    "import fcntl, sys, time; f = open(sys.argv[1], 'a'); fcntl.flock(f, fcntl.LOCK_EX); print(1, flush=True); "
    "time.sleep(60)"
)


def held_lock(tmp_path: Path, trained: Path, image_run: Path) -> list[str]:
    """A resume while another process holds the folder's lock (flock is per open file: a child holding it is one;
    the running writers themselves are in test_kills.py)."""
    run = copy_run(trained, tmp_path)
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(run / ".lock")], stdout=subprocess.PIPE, text=True)
    HOLDERS.append(holder)
    assert holder.stdout.readline().strip() == "1"
    return resume(run, "train.steps=6")


HOLDERS: list[subprocess.Popen] = []

CASES = {
    "CONFIG is a directory": Case(
        lambda t, r, i: ["train", str(t)], r"config '.*' is a directory, not a TOML file; give a file or a preset"
    ),
    "CONFIG is not UTF-8": Case(
        lambda t, r, i: ["train", str(config_file(t, b"\xff\xfe\x00binary"))], r"config file .*bad.toml is not UTF-8"
    ),
    "CONFIG is not TOML": Case(
        lambda t, r, i: ["train", str(config_file(t, b"[train\nsteps = "))], r"config file .*bad.toml is not valid TOML"
    ),
    "unknown key": Case(
        lambda t, r, i: ["train", "eight_gaussians/wgan", "train.stepz=1"], r"unknown key train.stepz .*'steps'\?"
    ),
    "unknown objective in a file": Case(
        lambda t, r, i: ["train", str(config_file(t, b'[objective]\nname = "wgan-pg"\n'))],
        r".*bad.toml: objective.name='wgan-pg' is not one of gan, .* \(did you mean 'wgan-gp'\?\)",
    ),
    "unknown objective in an override": Case(
        lambda t, r, i: ["train", "eight_gaussians/wgan", "objective.name=wgann"],
        r"override: objective.name='wgann' is not one of ",
    ),
    "train.seed=-1": Case(
        lambda t, r, i: ["train", "eight_gaussians/wgan", "train.seed=-1"], r"train.seed=-1 must be an integer >= 0"
    ),
    "model.init_std=nan": Case(
        lambda t, r, i: ["train", "eight_gaussians/wgan", "model.init_std=nan"],
        r"model.init_std=nan must be a finite number >= 0",
    ),
    "data.noise_std=nan": Case(
        lambda t, r, i: ["train", "eight_gaussians/wgan", "data.noise_std=nan"],
        r"data.noise_std=nan must be a finite number >= 0",
    ),
    "data.noise_std=inf": Case(
        lambda t, r, i: ["train", "eight_gaussians/wgan", "data.noise_std=inf"],
        r"data.noise_std=inf must be a finite number >= 0",
    ),
    "train.batch_size=10000000": Case(
        lambda t, r, i: ["train", "eight_gaussians/wgan-gp", "train.batch_size=10000000", "--out", str(t / "run")],
        r"train.batch_size=10000000 needs at least 184.6 GB for one step's activations \(18,456 bytes per "
        r"sample\) but [\d,.]+ [kMGT]B is free on cpu; lower train.batch_size$",
    ),
    "train.device=cuda without CUDA": Case(
        lambda t, r, i: ["train", "eight_gaussians/wgan", "train.device=cuda", "--out", str(t / "run")],
        r"train.device='cuda' but no CUDA device is visible; use train.device=cpu",
    ),
    "disk full": Case(
        lambda t, r, i: [
            "train",
            "eight_gaussians/wgan-gp",
            "--out",
            str(t / "run"),
            "train.steps=4",
            "log.checkpoint_every=2",
            *SMALL,
        ],  # fmt: skip
        r"disk full: cannot write .*/run/checkpoints/step-00000002.pt \(\d+ bytes free there\); free some space, "
        r"then resume with: wganlab train .*/run/config.toml --out .*/run --resume",
    ),
    "symbolic link loop in an image folder": Case(
        lambda t, r, i: folder_train(image_folder(t, "loop"), t / "run"),
        r"2 symbolic link\(s\) under data.path='.*images' lead to no file \(dangling or a loop\): b.png -> .*c.png, "
        r"c.png -> .*b.png; fix or remove them",
    ),
    "dangling link in an image folder": Case(
        lambda t, r, i: folder_train(image_folder(t, "dangling"), t / "run"),
        r"1 symbolic link\(s\) under data.path='.*images' lead to no file .*: b.png -> .*gone.png; fix or remove",
    ),
    "unwritable --out": Case(
        lambda t, r, i: ["train", "eight_gaussians/wgan", "--out", "/dev/null/run"],
        r"--out /dev/null/run cannot be written \(Not a directory\); choose a writable folder",
    ),
    "sample --device cuda without CUDA": Case(
        lambda t, r, i: ["sample", str(r), "--out", str(t / "s.png"), "--device", "cuda"],
        r"--device cuda: no CUDA device is visible on this machine; use --device cpu",
    ),
    "eval --device cuda without CUDA": Case(
        lambda t, r, i: ["eval", str(r), "--device", "cuda:0"],
        r"--device cuda:0: no CUDA device is visible on this machine; use --device cpu",
    ),
    "eval --device gpu": Case(
        lambda t, r, i: ["eval", str(r), "--device", "gpu"], r"--device 'gpu' must be cpu, cuda or cuda:N"
    ),
    "sample --out unwritable": Case(
        lambda t, r, i: ["sample", str(r), "--out", "/dev/null/s.png"],
        r"cannot write /dev/null/s.png: /dev/null is a file, not a folder; use another folder$",
    ),
    "sample --n 0": Case(lambda t, r, i: ["sample", str(r), "--n", "0", "--out", "x.png"], r"--n 0 must be at least 1"),
    "eval --n 0": Case(lambda t, r, i: ["eval", str(r), "--n", "0"], r"--n 0 must be at least 2"),
    "eval --metrics ,": Case(
        lambda t, r, i: ["eval", str(r), "--metrics", ","],
        r"--metrics names no metric; choose from modes, sliced_w2, w1",
    ),
    "eval --metrics is on a toy run": Case(
        lambda t, r, i: ["eval", str(r), "--metrics", "is"],
        r"--metrics: unknown toy metric is; choose from modes, sliced_w2, w1",
    ),
    "eval --metrics is without its weights": Case(
        lambda t, r, i: ["eval", str(i), "--metrics", "is"],
        r"the Inception Score needs the 2015 TF Inception's classifier weights: pass --inception-weights PATH to "
        r"pytorch-fid's pt_inception-2015-12-05-6726825d.pth \(wganlab never downloads it; "
        r"docs/metrics.md says where\)",
    ),
    "eval of a folder that is no run": Case(lambda t, r, i: ["eval", str(t)], r".*config.toml is missing; is .* a"),
    "prepare SOURCE missing": Case(
        lambda t, r, i: ["prepare", str(t / "nowhere"), "--out", str(t / "out")],
        r"SOURCE='.*nowhere' does not exist; point it at a folder of images",
    ),
    "prepare --size 4": Case(
        lambda t, r, i: ["prepare", str(t), "--out", str(t / "out"), "--size", "4"], r"--size 4 must be at least 8"
    ),
    "--resume with a lower train.steps": Case(
        lambda t, r, i: resume(copy_run(r, t), "train.steps=3"),
        r"--resume: train.steps=3 is below step 4 of .*step-00000004.pt; give train.steps >= 4",
    ),
    "--resume with a changed setting": Case(
        lambda t, r, i: resume(copy_run(r, t), "objective.penalty_weight=1"),
        r"--resume: settings differ from .*config.toml: objective.penalty_weight: 0.1 -> 1.0 .*start a new run",
    ),
    "--resume with every checkpoint corrupt": Case(
        lambda t, r, i: resume(corrupt_every_checkpoint(t, r, b"\x00" * 64)),
        r"no checkpoint in .*checkpoints loads: step-00000004.pt \(corrupt or not a wganlab checkpoint: \w+\), "
        r"step-00000002.pt .*; move them away to start the run over",
    ),
    "--resume with malicious checkpoints": Case(
        lambda t, r, i: resume(corrupt_every_checkpoint(t, r)),
        r"no checkpoint in .*checkpoints loads: step-00000004.pt \(corrupt or not a wganlab checkpoint: "
        r"UnpicklingError\), .*; move them away",
    ),
    "--resume with a damaged metrics.jsonl": Case(
        lambda t, r, i: damaged_metrics(copy_run(r, t)),
        r".*metrics.jsonl line 1 is not valid JSON; the file was edited or damaged: fix or remove that line, then",
    ),
    "--resume while another process writes the run": Case(
        held_lock, r".*/run is being written by .*; wait for it to finish, or choose another --out$"
    ),
    "--resume without --out": Case(
        lambda t, r, i: ["train", "eight_gaussians/wgan", "--resume"], r"--resume needs --out RUN_DIR"
    ),
}


def damaged_metrics(run: Path) -> list[str]:
    lines = (run / "metrics.jsonl").read_text().splitlines()
    (run / "metrics.jsonl").write_text("\n".join(["{not json", *lines[1:]]) + "\n")
    return resume(run, "train.steps=6")


def fill_disk_at_the_first_checkpoint(monkeypatch) -> None:
    real = os.replace

    def replace(source, target):
        if str(target).endswith("step-00000002.pt"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(target))
        return real(source, target)

    monkeypatch.setattr(wganlab.files.os, "replace", replace)


@pytest.mark.parametrize("name", CASES)
def test_bad_input_gets_one_line_and_exit_2(name, tmp_path, trained, image_run, capsys, monkeypatch):
    if "without CUDA" in name and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    if name == "train.batch_size=10000000" and available_memory_bytes() > 1.8e11:
        pytest.skip("this machine has the 185 GB that batch needs")
    case = CASES[name]
    argv = case.setup(tmp_path, trained, image_run)
    before = snapshot(trained)
    if name == "disk full":
        fill_disk_at_the_first_checkpoint(monkeypatch)
    try:
        code = main(argv)
    finally:
        for holder in HOLDERS:
            holder.kill()
            holder.wait()
        HOLDERS.clear()
    lines = [line for line in capsys.readouterr().err.splitlines() if not line.startswith("run folder: ")]
    assert code == case.code, lines
    assert len(lines) == 1, lines
    command = argv[0]
    assert lines[0].startswith(f"wganlab {command}: error: "), lines
    assert re.match(case.message, lines[0].removeprefix(f"wganlab {command}: error: ")), lines[0]
    assert snapshot(trained) == before  # the shared run is never touched
    assert not (tmp_path / MARKER).exists()
    if name.startswith("--resume with a lower") or name.startswith("--resume with a changed"):
        assert (tmp_path / "run/config.toml").read_text() == (trained / "config.toml").read_text()
    if name == "disk full":
        assert not list((tmp_path / "run").rglob("*.tmp"))
        monkeypatch.undo()
        resumed = lines[0].split("resume with: wganlab ")[1].split()
        assert main(resumed) == 0
        assert RunFolder(tmp_path / "run").outcome()["status"] == "finished"


def snapshot(run: Path) -> dict[str, bytes]:
    return {str(p.relative_to(run)): p.read_bytes() for p in sorted(run.rglob("*")) if p.is_file()}


def test_prepare_names_why_a_pair_was_skipped_in_one_warning_and_goes_on(tmp_path):
    (tmp_path / "set/images").mkdir(parents=True)
    (tmp_path / "set/masks").mkdir()
    for name, mask_size in (("a", 8), ("b", 6)):
        Image.fromarray(np.full((8, 8, 3), 40, np.uint8)).save(tmp_path / f"set/images/{name}.png")
        Image.fromarray(np.full((mask_size, mask_size), 255, np.uint8)).save(tmp_path / f"set/masks/{name}.png")
    # In a process of its own: pytest would catch the warning before the CLI prints it.
    argv = ["prepare", str(tmp_path / "set"), "--out", str(tmp_path / "out"), "--size", "8"]
    done = subprocess.run([sys.executable, "-m", "wganlab", *argv], capture_output=True, text=True, env=ENV)
    assert done.returncode == 0
    lines = [line for line in done.stderr.splitlines() if line and not line.startswith("preparing")]  # tqdm's bar
    assert "Traceback" not in done.stderr
    assert lines[0] == (
        f"wganlab prepare: warning: skipped 1 of 2 unreadable images in {tmp_path / 'set'}: images/b.png "
        "(ValueError: mask is 6x6 but image is 8x8)"
    )
    assert lines[1:] == [f"wrote {tmp_path / 'out' / 'images'}"]


def test_malicious_pickles_in_checkpoints_caches_and_datasets_never_run(tmp_path, trained):
    """Resuming from malicious checkpoints is in the table; here every other file wganlab unpickles or memory-maps:
    best.pt and step files read for sampling and by the studies, the decoded-image cache, the reference
    statistics cache and a CIFAR-10 batch."""
    from wganlab.config import DataConfig
    from wganlab.data.sources.cifar10 import load_cifar10
    from wganlab.data.sources.folder import load_folder
    from wganlab.errors import CheckpointError, DataError, MetricError
    from wganlab.metrics.reference import cache_file, load_reference

    marker = tmp_path / MARKER
    evil = pickle.dumps(Malicious(marker), protocol=2)
    # 0. best.pt (`wganlab eval --checkpoint best`, the studies) and the step files (the studies' snapshots).
    run = copy_run(trained, tmp_path)
    for path in (run / "checkpoints").glob("*.pt"):
        path.unlink()
        torch.save({"format": 1, "generator": Malicious(marker)}, path)
    with pytest.raises(CheckpointError, match=r"best.pt is corrupt or not a wganlab checkpoint: UnpicklingError"):
        RunFolder(run).load_generator("best")
    with pytest.raises(pickle.UnpicklingError, match="Weights only load failed"):
        next(RunFolder(run).generator_snapshots())
    # 1. The image cache: an .npy holding a pickled object array where the uint8 array should be.
    root = tmp_path / "images"
    root.mkdir()
    Image.fromarray(np.full((8, 8, 3), 7, np.uint8)).save(root / "a.png")
    config = DataConfig(source="folder", path=str(root), image_size=8, cache_dir=str(tmp_path / "cache"))
    load_folder(config, progress=False)
    array_path = next((tmp_path / "cache").rglob("*.npy"))
    np.save(array_path, np.array([Malicious(marker)], dtype=object), allow_pickle=True)
    np.testing.assert_array_equal(load_folder(config, progress=False), np.full((1, 3, 8, 8), 7, np.uint8))
    # 2. Reference statistics (FID/KID) cached with torch.save.
    torch.save({"key": "k", "mean": Malicious(marker)}, cache_file(tmp_path, "k"))
    with pytest.raises(MetricError, match="are unreadable"):
        load_reference(tmp_path, "k")
    # 3. A CIFAR-10 batch (the python version is pickled by design): refused by an allow-list unpickler.
    (tmp_path / "cifar-10-batches-py").mkdir()
    (tmp_path / "cifar-10-batches-py" / "test_batch").write_bytes(evil)
    with pytest.raises(DataError, match="is not a CIFAR-10 python batch"):
        load_cifar10(str(tmp_path), "test")
    assert not marker.exists()
