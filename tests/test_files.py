"""atomic_write and append_line: files appear whole or not at all, with the permissions of any new file; a full disk
is one StorageError line."""

import errno
import hashlib
import os
import stat

import pytest

import wganlab.files
from wganlab.errors import StorageError
from wganlab.files import append_line, atomic_write, atomic_write_text


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


def test_an_append_that_fails_part_way_leaves_the_old_lines_and_says_disk_full(tmp_path, monkeypatch):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"step": 1}\n')
    real_write = os.write

    def half_then_full(descriptor, data):
        real_write(descriptor, bytes(data[: len(data) // 2]))
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(wganlab.files.os, "write", half_then_full)
    with pytest.raises(StorageError, match=r"^disk full: cannot write .*metrics.jsonl \(\d+ bytes free there\); free"):
        append_line(path, '{"step": 2, "critic_loss": 0.25}\n')
    monkeypatch.undo()
    assert path.read_text() == '{"step": 1}\n'
    append_line(path, '{"step": 2}\n')
    assert path.read_text() == '{"step": 1}\n{"step": 2}\n'


def test_a_full_disk_during_an_atomic_write_keeps_the_old_file_and_no_temp(tmp_path, monkeypatch):
    atomic_write_text(tmp_path / "config.toml", "old")

    def full(temp):
        with open(temp, "w") as handle:
            handle.write("half")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with pytest.raises(StorageError, match=r"^disk full: cannot write .*config.toml"):
        atomic_write(tmp_path / "config.toml", full)
    assert (tmp_path / "config.toml").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml"]


def test_a_file_in_the_way_of_a_folder_is_named(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(StorageError, match=r"^cannot write .*/file/run/x.txt: .*/file is a file, not a folder; use"):
        atomic_write_text(tmp_path / "file" / "run" / "x.txt", "x")


def test_other_failures_keep_their_own_exception(tmp_path):
    def broken(temp):
        raise ValueError("a bug, not the disk")

    with pytest.raises(ValueError, match="a bug"):
        atomic_write(tmp_path / "x", broken)


def test_sha256_hex_of_a_path_and_of_a_stream_it_copies(tmp_path):
    import io

    from wganlab.files import sha256_hex

    # FIPS 180-2's example: sha256("abc").
    abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    (tmp_path / "abc").write_bytes(b"abc")
    assert sha256_hex(tmp_path / "abc") == sha256_hex(str(tmp_path / "abc")) == abc
    big = bytes(range(256)) * 8193  # more than one MiB block
    copy = io.BytesIO()
    assert sha256_hex(io.BytesIO(big), copy_to=copy) == hashlib.sha256(big).hexdigest()
    assert copy.getvalue() == big
