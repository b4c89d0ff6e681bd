"""Studies: each reproduces a figure or a claim of the seeds by calling training and the objectives.

`run_study(name, quick=, seeds=, out=)` runs one study into `out` (default `studies/<name>/`), or every study
for `all` (default `studies/`, one folder per study) plus one `report.md` and a self-contained `report.html`.
"""

import sys
import time
from collections.abc import Callable
from importlib import import_module
from pathlib import Path

from wganlab.errors import ConfigError
from wganlab.studies.report import Section, write_combined, write_json, write_section

# name -> module under wganlab.studies with run(out, *, quick, seeds) -> Section. Filled here, read-only.
STUDIES: dict[str, str] = {
    "distances": "distances",
    "critic-response-1d": "critic_response",
    "value-surface": "value_surface",
    "toy-training": "toy_training",
    "loss-vs-quality-toy": "loss_vs_quality",
}


def study_function(name: str) -> Callable[..., Section]:
    return import_module(f"wganlab.studies.{STUDIES[name]}").run


def run_study(name: str, *, quick: bool = False, seeds: int | None = None, out: Path | None = None) -> Path:
    """Run study `name` (or `all`); returns the report.md written."""
    if name != "all" and name not in STUDIES:
        raise ConfigError(f"unknown study {name!r}; choose one of {', '.join(STUDIES)} or all")
    if seeds is not None and seeds < 1:
        raise ConfigError(f"--seeds={seeds} must be >= 1")
    if name == "all":
        root = Path(out) if out is not None else Path("studies")
        sections = [_run_one(study, root / study, quick, seeds) for study in STUDIES]
        md, html = write_combined(sections, root, "wganlab toy studies" + (" (quick)" if quick else ""))
        print(f"wrote {md} and {html}", file=sys.stderr)
        return md
    folder = Path(out) if out is not None else Path("studies") / name
    _run_one(name, folder, quick, seeds)
    return folder / "report.md"


def _run_one(name: str, folder: Path, quick: bool, seeds: int | None) -> Section:
    folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    section = study_function(name)(folder, quick=quick, seeds=seeds)
    write_section(section, folder)
    seconds = time.perf_counter() - started
    # Kept out of report.md and the CSVs, so a rerun writes identical files there.
    write_json(folder / "timing.json", {"study": name, "quick": quick, "seconds": round(seconds, 1)})
    print(f"study {name}: {seconds:.1f} s -> {folder / 'report.md'}", file=sys.stderr)
    return section


__all__ = ["STUDIES", "run_study", "study_function"]
