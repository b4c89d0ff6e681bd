"""Only what pyproject.toml cannot say: a wheel built from a git checkout records its commit.

`build_py` writes `wganlab/_build.json` ({"git_commit", "git_dirty"}) into the build folder, never into the
source tree, so an installed wheel's run.json names the commit it was built from
(`wganlab.provenance.source_revision`). Built from an sdist or without git, no file is written and run.json
says the commit is unknown.
"""

import json
import subprocess
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


def git_revision() -> dict | None:
    if not (ROOT / ".git").exists():
        return None
    try:
        git = {"capture_output": True, "text": True, "timeout": 10, "cwd": ROOT}
        commit = subprocess.run(["git", "rev-parse", "HEAD"], **git).stdout.strip()
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], **git)
    except (OSError, subprocess.SubprocessError):
        return None
    if not commit or status.returncode != 0:
        return None
    return {"git_commit": commit, "git_dirty": bool(status.stdout.strip())}


class BuildWithCommit(build_py):
    def run(self) -> None:
        super().run()
        revision = git_revision()
        if revision is not None and not self.editable_mode:  # an editable install asks git at run time
            target = Path(self.build_lib) / "wganlab" / "_build.json"
            target.write_text(json.dumps(revision) + "\n")


setup(cmdclass={"build_py": BuildWithCommit})
