"""atomic_write: the file appears whole or not at all, with the permissions of any new file."""

import os
import stat

import pytest

from wganlab.files import atomic_write, atomic_write_text


def test_writes_whole_files_with_the_umask_permissions(tmp_path):
    before = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "a.txt", "hello")
    finally:
        os.umask(before)
    assert (tmp_path / "a.txt").read_text() == "hello"
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o644


def test_a_failed_write_leaves_the_old_file_and_no_temp(tmp_path):
    atomic_write_text(tmp_path / "a.txt", "old")

    def broken(temp: str) -> None:
        with open(temp, "w") as handle:
            handle.write("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(tmp_path / "a.txt", broken)
    assert (tmp_path / "a.txt").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]
