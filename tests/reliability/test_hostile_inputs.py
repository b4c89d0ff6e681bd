"""Hostile inputs (issue 30: items 1-5 and 9, and more of the same kind): a device, a FIFO or a socket where data
should be, decompression bombs, sizes beyond memory or int64, a broken torchrun environment, a full disk under
the image cache, and Ctrl-C or SIGTERM while images decode. Each ends in one line naming the file or option and
what to do, exit code 2 (130/143 for the signals), no traceback, bounded memory and time, and no run files."""

import errno
import gzip
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import wganlab.data.cache
import wganlab.data.guards
from wganlab.cli import main
from wganlab.config import DataConfig
from wganlab.data.guards import available_memory_bytes
from wganlab.data.images import load_image_array
from wganlab.errors import DataError

FASHION = Path("/usr/share/datasets/fashion-mnist")
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}
SMALL = ["train.batch_size=4", "train.steps=1", "train.device=cpu", "log.progress=false", "log.tensorboard=false",
         "log.eval_every=0", "log.sample_every=1000", "model.generator_widths=8", "model.critic_widths=8"]  # fmt: skip
EXPECTS = {
    "idx": "a folder of IDX files (or one IDX file)",
    "cifar10": "cifar-10-python.tar.gz or its extracted cifar-10-batches-py/ folder",
    "folder": "a folder of images",
    "masked_folder": "a folder of images",
    "zip": "a .zip of images",
    "array": "a .npy or .npz file of uint8 images",
}
ACCEPTS = {"idx": "a regular file or a folder", "cifar10": "a regular file or a folder", "folder": "a folder",
           "masked_folder": "a folder", "zip": "a regular file", "array": "a regular file"}  # fmt: skip


def train(run: Path, *overrides: str) -> list[str]:
    return ["train", "eight_gaussians/wgan-gp", "--out", str(run), *SMALL, *overrides]


def one_error_line(capsys, code: int, command: str = "train") -> str:
    """The single line the CLI printed (besides `run folder:`), after checking the exit code and its prefix."""
    lines = [line for line in capsys.readouterr().err.splitlines() if not line.startswith("run folder: ")]
    assert code == 2, lines
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"wganlab {command}: error: "), lines
    return lines[0].removeprefix(f"wganlab {command}: error: ")


def assert_no_run_files(run: Path) -> None:
    """A refused start writes nothing of a run: the folder --out named is not even made."""
    assert not run.exists(), sorted(os.listdir(run))


def make_fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def make_socket(path: Path) -> Path:
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.close()  # the socket file stays
    return path


# -- Item 1: a device, a FIFO or a socket as data.path, for every source that reads one ---------------------------


@pytest.mark.parametrize("source", list(EXPECTS))
def test_dev_zero_as_data_path_is_named_as_a_character_device(source, tmp_path, capsys):
    code = main(train(tmp_path / "run", f"data.source={source}", "data.path=/dev/zero", "data.image_size=8"))
    line = one_error_line(capsys, code)
    assert line == (
        f"data.path='/dev/zero' is a character device, not {ACCEPTS[source]}; point it at {EXPECTS[source]}"
    )
    assert_no_run_files(tmp_path / "run")


@pytest.mark.parametrize(
    ("source", "make", "kind"),
    [
        ("zip", lambda tmp: make_fifo(tmp / "data.zip"), "a FIFO (named pipe)"),
        ("idx", lambda tmp: make_fifo(tmp / "train-images-idx3-ubyte.gz"), "a FIFO (named pipe)"),
        ("cifar10", lambda tmp: make_fifo(tmp / "cifar-10-python.tar.gz"), "a FIFO (named pipe)"),
        ("array", lambda tmp: make_socket(tmp / "s.npy"), "a socket"),
        (
            "array",
            lambda tmp: os.symlink("/dev/zero", tmp / "z.npy") or tmp / "z.npy",
            "a character device (through a symbolic link)",
        ),  # fmt: skip
        ("array", lambda tmp: (tmp / "x.npy").mkdir() or tmp / "x.npy", "a folder"),
        ("zip", lambda tmp: os.symlink(tmp / "gone.zip", tmp / "d.zip") or tmp / "d.zip", None),
    ],
    ids=["fifo-zip", "fifo-idx", "fifo-cifar", "socket-npy", "symlink-to-dev-zero", "folder-named-x.npy", "dangling"],
)
def test_special_files_as_data_path_are_refused_before_opening(source, make, kind, tmp_path, capsys):
    path = make(tmp_path)
    code = main(train(tmp_path / "run", f"data.source={source}", f"data.path={path}", "data.image_size=8"))
    line = one_error_line(capsys, code)
    if kind is None:
        assert (
            line
            == f"data.path='{path}' does not exist (a symbolic link that leads nowhere); point it at a .zip of images"
        )
    else:
        assert line == f"data.path='{path}' is {kind}, not {ACCEPTS[source]}; point it at {EXPECTS[source]}"
    assert_no_run_files(tmp_path / "run")


def test_prepare_refuses_a_device_or_fifo_as_source(tmp_path, capsys):
    for source, kind in (("/dev/zero", "a character device"), (make_fifo(tmp_path / "pipe"), "a FIFO (named pipe)")):
        code = main(["prepare", str(source), "--out", str(tmp_path / "out")])
        line = one_error_line(capsys, code, "prepare")
        assert line == f"SOURCE='{source}' is {kind}, not a folder; point it at a folder of images"
    assert not (tmp_path / "out").exists()


# -- Item 3: a FIFO named a.png inside an image folder --------------------------------------------------------------


def image_folder(root: Path, count: int = 4, size: int = 8) -> Path:
    root.mkdir(parents=True)
    for index in range(count):
        pixels = np.random.default_rng(index).integers(0, 256, (size, size, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(root / f"{index}.png")
    return root


def test_a_fifo_among_images_is_skipped_with_the_warning_or_refused_under_strict(tmp_path):
    root = image_folder(tmp_path / "set")
    make_fifo(root / "a.png")
    os.symlink("/dev/zero", root / "b.png")
    # A subprocess with a timeout: before the fix, opening a.png blocked forever.
    strict = [sys.executable, "-m", "wganlab", *train(tmp_path / "run", "data.source=folder", f"data.path={root}",
              "data.image_size=8", f"data.cache_dir={tmp_path / 'cache'}", "data.strict=true")]  # fmt: skip
    done = subprocess.run(strict, capture_output=True, text=True, env=ENV, timeout=60)
    lines = [line for line in done.stderr.splitlines() if not line.startswith("run folder: ")]
    assert (done.returncode, lines) == (
        2,
        [
            f"wganlab train: error: 2 of 6 images in {root} are unreadable: a.png (a FIFO (named pipe), not a regular "
            "file), b.png (a character device, not a regular file); remove them or set data.strict=false to skip them"
        ],
    )
    assert not (tmp_path / "cache").exists()  # refused before anything was decoded
    assert_no_run_files(tmp_path / "run")
    relaxed = [*strict[:-1], "data.strict=false"]
    done = subprocess.run(relaxed, capture_output=True, text=True, env=ENV, timeout=120)
    assert done.returncode == 0, done.stderr
    warnings = [line for line in done.stderr.splitlines() if "warning" in line]
    assert warnings == [
        f"wganlab train: warning: skipped 2 of 6 unreadable images in {root}: a.png (a FIFO (named pipe), not a "
        "regular file), b.png (a character device, not a regular file)"
    ]


SLOW_DECODE = """
import faulthandler, pathlib, signal, sys, time
faulthandler.register(signal.SIGUSR1, all_threads=True)  # the test asks for every thread's stack if it hangs
# A shell starts a background job (`pytest ... &`, as CI scripts may) with SIGINT ignored, and every process below
# inherits that, so Ctrl-C is ignored as POSIX intends; this test plays a Ctrl-C at a foreground wganlab.
signal.signal(signal.SIGINT, signal.default_int_handler)
import wganlab.data.sources.folder as folder
marker = pathlib.Path(sys.argv[1])

def slow(*args, **kwargs):
    marker.touch()
    time.sleep(60)

folder.decode_image = slow
from wganlab.cli import entry
sys.argv = ["wganlab", *sys.argv[2:]]
entry()
"""


@pytest.mark.parametrize(("signum", "code", "said"), [(signal.SIGINT, 130, "interrupted"),
                                                      (signal.SIGTERM, 143, "stopped by SIGTERM")])  # fmt: skip
def test_ctrl_c_and_sigterm_stop_a_slow_decode_within_seconds(signum, code, said, tmp_path):
    root = image_folder(tmp_path / "set", count=40)
    marker = tmp_path / "decoding"
    argv = train(tmp_path / "run", "data.source=folder", f"data.path={root}", "data.image_size=8",
                 f"data.cache_dir={tmp_path / 'cache'}")  # fmt: skip
    process = subprocess.Popen([sys.executable, "-c", SLOW_DECODE, str(marker), *argv], stderr=subprocess.PIPE,
                               text=True, env=ENV)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert process.poll() is None and time.monotonic() < deadline, process.stderr.read()
            time.sleep(0.05)
        sent = time.monotonic()
        process.send_signal(signum)
        try:
            stderr = process.communicate(timeout=30)[1]
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGUSR1)  # where each thread waits, for the failure message
            time.sleep(2)
            process.kill()
            pytest.fail(f"no exit 30 s after the signal; the threads' stacks:\n{process.communicate()[1][-8000:]}")
        elapsed = time.monotonic() - sent
    finally:
        process.kill()
        process.wait()
    assert process.returncode == code, stderr
    assert elapsed < 5, elapsed  # each decode sleeps 60 s: nothing waited for one
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if not line.startswith("run folder: ")]
    assert len(lines) == 1 and lines[0].startswith(f"wganlab train: {said}; no checkpoint was written yet"), lines
    assert not list((tmp_path / "cache").glob("*.tmp")) and not list((tmp_path / "cache").glob(".*.tmp"))


# -- Item 2 and more: decompression bombs and declared sizes ----------------------------------------------------


def idx_header(count: int, height: int, width: int) -> bytes:
    return struct.pack(">IIII", 0x00000803, count, height, width)


def test_a_gzip_bomb_idx_stops_at_the_declared_size(tmp_path, capsys, monkeypatch):
    """The header says 10 images of 28x28; the stream inflates to 64 MB. Reading stops one byte past 7,840."""
    path = tmp_path / "train-images-idx3-ubyte.gz"
    with gzip.open(path, "wb", compresslevel=1) as out:
        out.write(idx_header(10, 28, 28))
        chunk = bytes(1 << 20)
        for _ in range(64):
            out.write(chunk)
    assert path.stat().st_size < 400_000
    inflated = []
    real = gzip.GzipFile.readinto

    def counting(self, buffer):
        count = real(self, buffer)
        inflated.append(count)
        return count

    monkeypatch.setattr(gzip.GzipFile, "readinto", counting)
    code = main(train(tmp_path / "run", "data.source=idx", f"data.path={tmp_path}", "data.image_size=8"))
    assert one_error_line(capsys, code) == (
        f"{path} holds more pixels than its header says (10x28x28 = 7840 bytes); the file is corrupt (or a "
        "decompression bomb), download it again"
    )
    assert sum(inflated) <= 16 + 7840 + 1  # header, pixels, the one byte that proves there is more
    assert_no_run_files(tmp_path / "run")


@pytest.mark.parametrize("gzipped", [True, False])
def test_an_idx_header_beyond_memory_is_refused_before_allocating(gzipped, tmp_path, capsys):
    """Three uint32 dimensions of 2**32 - 1 multiply to about 7.9e28 bytes (no overflow: Python integers)."""
    path = tmp_path / ("train-images-idx3-ubyte" + (".gz" if gzipped else ""))
    payload = idx_header(0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF) + bytes(64)
    path.write_bytes(gzip.compress(payload) if gzipped else payload)
    code = main(train(tmp_path / "run", "data.source=idx", f"data.path={tmp_path}", "data.image_size=8"))
    line = one_error_line(capsys, code)
    declared = "4294967295x4294967295x4294967295 = 79228162458924105385300197375"
    if gzipped:
        assert re.fullmatch(
            rf"{re.escape(str(path))}'s header \({declared} bytes of pixels\) needs 79,228,162,458.9 EB of memory "
            r"but [\d,.]+ [kMGTPE]?B is available; is it a damaged or hostile file\?",
            line,
        ), line
    else:  # a raw file's size is known first: the header disagrees with it
        assert line == (
            f"{path} holds 64 bytes of pixels but its header says {declared}; the file is truncated or corrupt, "
            "download it again"
        )


def npy_bytes(shape: tuple[int, ...], payload: bytes) -> bytes:
    header = {"descr": "|u1", "fortran_order": False, "shape": shape}
    from io import BytesIO

    buffer = BytesIO()
    np.lib.format.write_array_header_1_0(buffer, header)
    return buffer.getvalue() + payload


def test_a_zip_bomb_in_an_npz_is_refused_before_it_is_inflated(tmp_path, capsys, monkeypatch):
    """An .npz member of 32 MB of zeros (32 kB compressed) whose header declares (32, 1024, 1024), under a
    memory limit of 1 MB: refused from the header, and the member is never read past it."""
    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("x_train.npy", npy_bytes((32, 1024, 1024), bytes(32 << 20)))
    assert path.stat().st_size < 100_000
    monkeypatch.setattr(wganlab.data.guards, "available_memory_bytes", lambda: 1_000_000)
    read = []
    real = zipfile.ZipExtFile.read
    monkeypatch.setattr(zipfile.ZipExtFile, "read", lambda self, n=-1: read.append(n) or real(self, n))
    code = main(train(tmp_path / "run", "data.source=array", f"data.path={path}", "data.image_size=8"))
    assert one_error_line(capsys, code) == (
        f"{path}:x_train (declared shape (32, 1024, 1024)) needs 33.6 MB of memory but 1.0 MB is available; "
        "is it a damaged or hostile file?"
    )
    assert all(0 <= n <= 4096 for n in read), read  # the header's few bytes, never the 32 MB
    assert_no_run_files(tmp_path / "run")


def test_an_npy_whose_header_claims_a_huge_shape(tmp_path, capsys):
    path = tmp_path / "claims.npy"
    path.write_bytes(npy_bytes((10**9, 28, 28), bytes(100)))
    code = main(train(tmp_path / "run", "data.source=array", f"data.path={path}", "data.image_size=8"))
    line = one_error_line(capsys, code)
    assert line.startswith(f"{path} does not load as a NumPy array file (ValueError: "), line


def test_a_png_decompression_bomb_inside_a_zip_is_an_unreadable_image(tmp_path, capsys, monkeypatch):
    """Pillow's pixel limit stays on inside zips too (lowered here so that a 40x40 PNG counts as a bomb)."""
    root = image_folder(tmp_path / "set", count=2)
    Image.fromarray(np.zeros((40, 40), np.uint8)).save(root / "bomb.png")
    path = tmp_path / "set.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for file in sorted(root.iterdir()):
            archive.write(file, file.name)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 500)
    argv = train(tmp_path / "run", "data.source=zip", f"data.path={path}", "data.image_size=8", "data.strict=true",
                 f"data.cache_dir={tmp_path / 'cache'}")  # fmt: skip
    line = one_error_line(capsys, main(argv))
    assert re.fullmatch(
        rf"1 of 3 images in {re.escape(str(path))} are unreadable: bomb.png; remove them or set data.strict=false "
        "to skip them",
        line,
    ), line


def test_cifar_batches_larger_than_a_cifar_batch_are_refused_unread(tmp_path, capsys):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    with open(folder / "test_batch", "wb") as sparse:
        sparse.truncate(1 << 30)  # 1 GiB, sparse: it takes no disk and, refused by its size, no memory
    code = main(train(tmp_path / "run", "data.source=cifar10", f"data.path={tmp_path}", "data.split=test"))
    assert one_error_line(capsys, code) == (
        f"{folder / 'test_batch'} is 1,073,741,824 bytes, but a CIFAR-10 batch is about 31 MB; the file is damaged "
        "or not CIFAR-10, download it again"
    )


@pytest.mark.skipif(not (FASHION / "train-images-idx3-ubyte.gz").is_file(), reason="Fashion-MNIST not installed")
def test_data_image_size_4096_on_fashion_mnist_is_refused_before_resizing(tmp_path, capsys):
    if available_memory_bytes() > 1.1e12:
        pytest.skip("this machine has the 1 TB that size needs")
    argv = train(tmp_path / "run", "data.source=idx", "data.image_size=4096", "model.architecture=dcgan")
    line = one_error_line(capsys, main(argv))
    assert re.fullmatch(
        r"data.image_size=4096 makes 60,000 images of 1x4096x4096 uint8, which needs 1.0 TB of memory but "
        r"[\d,.]+ [kMG]B is available; lower data.image_size",
        line,
    ), line
    assert_no_run_files(tmp_path / "run")


# -- Item 4: a full disk under the image cache --------------------------------------------------------------------


def no_space(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.mark.parametrize("how", ["fallocate", "plain writes"])
def test_a_full_disk_under_the_image_cache_is_one_line_and_leaves_no_temp_file(how, tmp_path, capsys, monkeypatch):
    root = image_folder(tmp_path / "set")
    cache = tmp_path / "cache"
    if how == "fallocate":
        monkeypatch.setattr(wganlab.data.cache.os, "posix_fallocate", no_space)
    else:  # a file system without fallocate: zeros are written instead, and the disk fills while writing them
        monkeypatch.setattr(
            wganlab.data.cache.os, "posix_fallocate", lambda *a: (_ for _ in ()).throw(OSError(errno.EOPNOTSUPP, "no"))
        )
        monkeypatch.setattr(wganlab.data.cache.os, "pwrite", no_space)
    argv = train(tmp_path / "run", "data.source=folder", f"data.path={root}", "data.image_size=8",
                 f"data.cache_dir={cache}")  # fmt: skip
    line = one_error_line(capsys, main(argv))
    assert re.fullmatch(
        rf"cannot write the image cache in {re.escape(str(cache))} \(the disk is full: 0.8 kB needed, [\d,.]+ [kMGT]B "
        r"free\); free some space or set data.cache_dir to a writable folder with room for it",
        line,
    ), line
    assert os.listdir(cache) == []  # no .npy.*.tmp left to fill the disk for the next try
    assert_no_run_files(tmp_path / "run")
    monkeypatch.undo()
    assert main([*argv[:3], str(tmp_path / "run2"), *argv[4:]]) == 0  # with space again, the same command works


TMPFS_SCRIPT = """
set -u
mount -t tmpfs -o size=96k tmpfs "$MNT"
"$PYTHON" -m wganlab "$@" 2> "$OUT/stderr.txt"; echo $? > "$OUT/rc"
ls -A "$MNT/cache" > "$OUT/left.txt" 2>&1
"""


@pytest.mark.slow
def test_a_real_full_tmpfs_under_the_image_cache_is_one_line_not_sigbus(tmp_path):
    """Before the fix, the cache's memory map over a sparse file died with SIGBUS (rc 135) on a full tmpfs."""
    from test_disk_full import namespaces_work

    if not namespaces_work(tmp_path):
        pytest.skip("cannot mount a tmpfs in a user namespace here (unshare -rm)")
    root = image_folder(tmp_path / "set", count=40, size=32)  # 40 x 3 x 32 x 32 = 123 kB of cache
    mount = tmp_path / "mnt"
    mount.mkdir()
    argv = train(tmp_path / "run", "data.source=folder", f"data.path={root}", "data.image_size=32",
                 f"data.cache_dir={mount / 'cache'}")  # fmt: skip
    env = {**ENV, "MNT": str(mount), "OUT": str(tmp_path), "PYTHON": sys.executable}
    subprocess.run(["unshare", "-rm", "sh", "-c", TMPFS_SCRIPT, "sh", *argv], env=env, check=True, timeout=300)
    lines = [line for line in (tmp_path / "stderr.txt").read_text().splitlines() if not line.startswith("run folder")]
    assert (tmp_path / "rc").read_text().strip() == "2", lines
    [line] = lines
    assert line.startswith(f"wganlab train: error: cannot write the image cache in {mount / 'cache'} (the disk is "
                           "full: 122.9 kB needed, "), line  # fmt: skip
    assert (tmp_path / "left.txt").read_text() == ""


# -- Item 5: sizes beyond memory or int64, and torchrun's environment ------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["model.z_dim=99999999999999999999"],
         r"override: model.z_dim='99999999999999999999' is out of range: integers must lie within \+-2\*\*63 "
         r"\(int64\)"),
        (["model.critic_widths=8,-99999999999999999999"],
         r"override: model.critic_widths='-99999999999999999999' is out of range: integers must lie within .*"),
        (["model.z_dim=4611686018427387904"],
         r"model.z_dim=4611686018427387904, model.generator_widths=8, model.critic_widths=8 makes the networks too "
         r"large to build \(Storage size calculation overflowed with sizes=\[8, 4611686018427387904\]\); lower them"),
        (["model.generator_widths=2000000000"],
         r"model.generator_widths=2000000000 gives the generator 10,000,000,002 parameters: with the other network, "
         r"their gradients and optimiser state that is 160.0 GB, but [\d,.]+ [kMG]B is free on cpu; lower "
         r"model.generator_widths"),
        (["optim.betas=0.5"], r"override: optim.betas='0.5' needs 2 floats separated by commas, e.g. "
         r"optim.betas=0.5,0.999"),
        (["model.generator_widths=8,x"], r"override: model.generator_widths='8,x' needs one or more ints separated by "
         r"commas, e.g. model.generator_widths=512,512,512"),
    ],
    ids=["z_dim-beyond-int64", "negative-width-beyond-int64", "z_dim-overflows-a-layer", "huge-width", "betas-one",
         "widths-not-ints"],
)  # fmt: skip
def test_sizes_beyond_memory_or_int64_and_malformed_tuples(overrides, message, tmp_path, capsys):
    if "2000000000" in overrides[0] and available_memory_bytes() > 1.6e11:
        pytest.skip("this machine has the 160 GB that network needs")
    line = one_error_line(capsys, main(train(tmp_path / "run", *overrides)))
    assert re.fullmatch(message, line), line
    assert_no_run_files(tmp_path / "run")


def test_a_tuple_written_wrong_in_a_toml_file_gets_a_toml_example(tmp_path, capsys):
    config = tmp_path / "bad.toml"
    config.write_text("[optim]\nbetas = 0.5\n")
    line = one_error_line(capsys, main(["train", str(config), "--dry-run"]))
    assert line == f"{config}: optim.betas=0.5 needs 2 floats separated by commas, e.g. betas = [0.5, 0.999]"


@pytest.mark.parametrize(
    ("environment", "message"),
    [
        ({"WORLD_SIZE": "abc"}, "WORLD_SIZE='abc' in the environment must be an integer from 1 to 1048576"),
        ({"WORLD_SIZE": "0"}, "WORLD_SIZE='0' in the environment must be an integer from 1 to 1048576"),
        ({"WORLD_SIZE": "99999999999999999999999"}, "WORLD_SIZE='99999999999999999999999' in the environment must"),
        ({"WORLD_SIZE": "2", "RANK": "2"}, "RANK='2' in the environment must be an integer from 0 to 1"),
        ({"LOCAL_RANK": "x"}, "LOCAL_RANK='x' in the environment must be an integer from 0 to 0"),
        (
            {"WORLD_SIZE": "2", "RANK": "1", "MASTER_ADDR": "localhost", "MASTER_PORT": "70000"},
            "MASTER_PORT='70000' in the environment must be an integer from 1 to 65535",
        ),  # fmt: skip
        ({"WORLD_SIZE": "2", "RANK": "1"}, "WORLD_SIZE=2 but MASTER_ADDR is not set; start the run with torchrun"),
    ],
    ids=["world-abc", "world-0", "world-huge", "rank-out-of-range", "local-rank-x", "port-70000", "no-master-addr"],
)
def test_torchrun_variables_are_checked(environment, message, tmp_path, capsys, monkeypatch):
    for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    line = one_error_line(capsys, main(train(tmp_path / "run")))
    assert line.startswith(message), line
    if "MASTER_ADDR is not" not in message:
        assert line.endswith("; torchrun sets it: unset it to train in one process, or start the run with torchrun")
    assert not (tmp_path / "run").exists()


def test_load_image_array_never_allocates_beyond_a_lowered_limit(tmp_path, monkeypatch):
    """The resize check uses the same limit as every other: with 100 kB allowed, 7 images at 64 px (86 kB) pass
    and at 128 px (344 kB) are refused, naming the option."""
    np.save(tmp_path / "set.npy", np.zeros((7, 8, 8), np.uint8))
    monkeypatch.setattr(wganlab.data.guards, "available_memory_bytes", lambda: 100_000)
    config: Callable[[int], DataConfig] = lambda size: DataConfig(  # noqa: E731
        source="array", path=str(tmp_path / "set.npy"), image_size=size
    )
    assert load_image_array(config(64)).shape == (7, 1, 64, 64)
    with pytest.raises(DataError, match=r"^data.image_size=128 makes 7 images of 1x128x128 uint8, which needs "
                       r"114.7 kB of memory but 100.0 kB is available; lower data.image_size$"):  # fmt: skip
        load_image_array(config(128))


def test_available_memory_heeds_the_address_space_limit():
    """ulimit -v lowers what a data source may allocate (a child process, so the limit stays there)."""
    script = (
        "import resource; from wganlab.data.guards import available_memory_bytes as free; before = free(); "
        "vm = int([l for l in open('/proc/self/status') if l.startswith('VmSize')][0].split()[1]) * 1024; "
        "resource.setrlimit(resource.RLIMIT_AS, (vm + (256 << 20), resource.RLIM_INFINITY)); "
        "after = free(); print(before > (300 << 20), 200 << 20 < after <= 256 << 20)"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=ENV, timeout=60)
    assert done.stdout.split() == ["True", "True"], done.stderr
