"""A real full disk: a small tmpfs (mounted in a private mount namespace, `unshare -rm`, so no root is needed
where user namespaces are allowed). The run stops with one line naming the file it could not write and the
exact resume command; once the tmpfs is made larger, that command finishes the run bit for bit.
(tests/reliability/campaign.py injects ENOSPC at every write without a tmpfs.)"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from campaign import TINY, clean, compare

ENV = {**os.environ, "OMP_NUM_THREADS": "1"}
SCRIPT = """
set -u
mount -t tmpfs -o size="$SIZE" tmpfs "$MNT"
"$PYTHON" -m wganlab train "$@" --out "$MNT/run" 2> "$OUT/first.txt"; echo $? > "$OUT/first.rc"
mount -o remount,size=64m "$MNT"
command=$(sed -n 's/.*resume with: wganlab //p' "$OUT/first.txt")
eval "\\"\\$PYTHON\\" -m wganlab $command" 2> "$OUT/resume.txt"; echo $? > "$OUT/resume.rc"
cp -a "$MNT/run" "$OUT/run"
"""


def namespaces_work(tmp_path: Path) -> bool:
    if shutil.which("unshare") is None:
        return False
    (tmp_path / "probe").mkdir()
    probe = f"mount -t tmpfs -o size=64k tmpfs {tmp_path / 'probe'}"
    return subprocess.run(["unshare", "-rm", "sh", "-c", probe], capture_output=True).returncode == 0


@pytest.mark.slow
def test_a_full_tmpfs_stops_the_run_in_one_line_and_the_printed_command_finishes_it(tmp_path):
    if not namespaces_work(tmp_path):
        pytest.skip("cannot mount a tmpfs in a user namespace here (unshare -rm)")
    references = {}
    for tensorboard in (False, True):  # generator.safetensors holds the config, log.tensorboard included
        references[tensorboard] = tmp_path / f"reference-{tensorboard}"
        subprocess.run([sys.executable, "-m", "wganlab", "train", *TINY, f"log.tensorboard={str(tensorboard).lower()}",
                        "--out", str(references[tensorboard])], check=True, env=ENV, capture_output=True)  # fmt: skip
    failed_files = set()
    # From a disk too small for the first files to one that fills at the last checkpoint; one with TensorBoard on.
    for size, tensorboard in [("16k", False), ("80k", False), ("120k", False), ("200k", False), ("40k", True)]:
        out = tmp_path / f"{size}-{tensorboard}"
        (out / "mnt").mkdir(parents=True)
        env = {**ENV, "SIZE": size, "MNT": str(out / "mnt"), "OUT": str(out), "PYTHON": sys.executable}
        argv = [*TINY, f"log.tensorboard={str(tensorboard).lower()}"]
        subprocess.run(["unshare", "-rm", "sh", "-c", SCRIPT, "sh", *argv], env=env, check=True)
        first = [line for line in (out / "first.txt").read_text().splitlines() if not line.startswith("run folder")]
        assert (out / "first.rc").read_text().strip() == "2", first
        [line] = first
        assert line.startswith(f"wganlab train: error: disk full: cannot write {out / 'mnt' / 'run'}/"), line
        assert line.endswith(f"then resume with: wganlab train {out}/mnt/run/config.toml --out {out}/mnt/run --resume")
        failed_files.add(line.split("cannot write ")[1].split(" (")[0].split("/run/")[1])
        assert (out / "resume.rc").read_text().strip() == "0", (out / "resume.txt").read_text()
        assert clean(out / "run")
        reference = references[tensorboard]
        assert compare(out / "run", reference) == dict.fromkeys(compare(reference, reference), True)
    assert len(failed_files) >= 3, failed_files  # the disk filled up at different files
