"""What the dataset builders share: the --out check, a folder published whole, and dataset.json."""

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from wganlab.errors import DataError
from wganlab.files import atomic_write_text


def check_out(out: Path) -> None:
    """DataError (one line) unless `out` is absent or an empty folder: a build never mixes with other files."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        what = "a file" if not out.is_dir() else "not empty"
        raise DataError(f"--out {out} is {what}; give a new or empty folder")


@contextmanager
def building(out: Path) -> Iterator[Path]:
    """A hidden folder beside `out` to build in, renamed to `out` when the build succeeds and removed when it
    fails, so an interrupted build leaves no half-filled `out` behind."""
    check_out(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".partial"))
    try:
        yield work
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(work, 0o777 & ~umask)  # mkdtemp's folder is private (0700); a dataset gets a new folder's mode
        if out.exists():
            out.rmdir()  # empty (checked above); a rename does not replace a folder
        os.replace(work, out)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def write_manifest(folder: Path, manifest: dict) -> None:
    """folder/dataset.json: what was built, from what (with its sha256) and how a run reads it."""
    atomic_write_text(folder / "dataset.json", json.dumps(manifest, indent=2) + "\n")
