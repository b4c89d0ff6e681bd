"""What every study writes: figures as PNG, numbers as CSV/JSON, and a report section rendered both as Markdown
(`report.md`) and as HTML (`report.html`), each showing the figures from the study's `plots/` folder.

One format per figure and no picture inside a page: a study folder stays small enough to travel with the
repository (`tests/test_packaging.py` holds the tracked tree under 40 MiB).

A study builds one `Section` from its measured numbers; nothing here computes anything.
"""

import csv
import datetime
import html
import json
import math
import numbers
import os
import platform
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import wganlab


@dataclass
class Figure:
    path: Path
    """The figure without suffix, relative to the study folder: plots/name (+ .png)."""
    caption: str


@dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[list[str]]
    csv_name: str = ""
    """The CSV in the study folder that holds the full-precision numbers behind this table."""


@dataclass
class Section:
    name: str
    """The study's name (its folder under the top-level out folder)."""
    title: str
    findings: list[str]
    """Two or three sentences of what was measured, numbers filled in from the run."""
    setup: list[str] = field(default_factory=list)
    """How it was measured: sizes, optimisers, iterations, deviations from the papers."""
    figures: list[Figure] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    header: str = ""
    """Provenance: version, commit, date, machine, the command and the study's size (see `provenance`)."""


def save_figure(figure, folder: Path, stem: str) -> Path:
    """Write plots/<stem>.png reproducibly (no software or date stamp); returns plots/<stem>."""
    plots = folder / "plots"
    plots.mkdir(parents=True, exist_ok=True)
    figure.savefig(plots / f"{stem}.png", dpi=120, metadata={"Software": None})
    return Path("plots") / stem


def git_commit() -> str:
    """The commit of wganlab's own repository (a checkout of it, or the one a wheel was built from), else ""."""
    from wganlab.provenance import source_revision

    revision = source_revision()
    commit = (revision["git_commit"] or "")[:7]
    return commit + (" with uncommitted changes" if commit and revision["git_dirty"] else "")


def machine() -> str:
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as handle:
            cpu = next(line.split(":", 1)[1].strip() for line in handle if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    gpu = f", {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ""
    plural = "" if cores == 1 else "s"
    return f"{cpu}, {cores} core{plural}{gpu}; Python {platform.python_version()}, torch {torch.__version__}"


def provenance(size: str, seeds: int, runs: int, run_seconds: float, command: str | None = None) -> str:
    """One line for the top of a report: what made it, where, when, and how much compute it took."""
    command = command or "wganlab " + " ".join(sys.argv[1:])
    commit = git_commit()
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"wganlab {wganlab.__version__}{f' (commit {commit})' if commit else ''} · {when} · {machine()} · "
        f"`{command}` · {size} size, {seeds} seed{'s' if seeds != 1 else ''}, {runs} runs, "
        f"{run_seconds / 3600:.2f} h of run time in total"
    )


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    """Rows as CSV, the columns in order of first appearance (a key some rows lack, e.g. WGAN's clip_share in a
    table that also holds WGAN-GP runs, is left empty there); floats written with repr (full precision,
    identical on identical reruns)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = list(dict.fromkeys(key for row in rows for key in row))
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, restval="")
        writer.writeheader()
        writer.writerows([{k: _plain(v) for k, v in row.items()} for row in rows])


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def write_json(path: Path, value: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, indent=2, sort_keys=True) + "\n")


def _plain(value: Any) -> Any:
    """Numbers as plain numbers (numpy scalars included, which repr as "np.float64(...)"), full precision."""
    if isinstance(value, bool):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return repr(float(value))
    return value


def fmt(value: float, digits: int = 3) -> str:
    """A number for a table or a sentence: `digits` significant figures, scientific when tiny or huge."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if value == 0:
        return "0"
    if abs(value) < 1e-3 or abs(value) >= 1e5:
        return f"{value:.{digits - 1}e}"
    text = f"{value:.{digits}g}"
    # "g" writes a number of more than `digits` integer digits in exponent form (104 -> "1e+02"): write the
    # rounded number whole instead.
    return f"{float(text):.0f}" if "e" in text else text


def mean_std(values: list[float], digits: int = 3) -> str:
    if len(values) == 1:
        return fmt(values[0], digits)
    mean = sum(values) / len(values)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
    return f"{fmt(mean, digits)} ± {fmt(std, 2)}"


def markdown(section: Section, prefix: str = "", level: int = 2, first_figure: int = 1) -> str:
    """The section as Markdown; `prefix` goes before file paths (the study folder, seen from the report).
    Figures are numbered from `first_figure`."""
    hashes = "#" * level
    lines = [f'<a id="{section.name}"></a>', "", f"{hashes} {section.title}", ""]  # the contents' link target
    if section.header:
        lines += [f"<sub>{section.header}</sub>", ""]
    lines += [" ".join(section.findings), ""]
    for number, figure in enumerate(section.figures, start=first_figure):
        png = f"{prefix}{figure.path}.png"
        lines += [f"![Figure {number}. {figure.caption}]({png})", ""]
        lines += [f"**Figure {number}.** *{figure.caption}* ([PNG]({png}))", ""]
    for table in section.tables:
        lines += [f"**{table.title}**" + (f" (`{prefix}{table.csv_name}`)" if table.csv_name else ""), ""]
        lines += [markdown_table(table.columns, table.rows), ""]
    if section.setup:
        lines += [f"{hashes}# Setup", ""]
        lines += [f"- {item}" for item in section.setup] + [""]
    return "\n".join(lines)


def markdown_table(columns: list[str], rows: list[list[str]]) -> str:
    """A GitHub-flavoured Markdown table; a `|` inside a cell (|dJS/dd|) is escaped so it does not split the cell."""

    def line(cells: list) -> str:
        return "| " + " | ".join(str(cell).replace("|", "\\|") for cell in cells) + " |"

    return "\n".join([line(columns), "|" + "---|" * len(columns), *(line(row) for row in rows)])


def write_section(section: Section, folder: Path) -> tuple[Path, Path]:
    """The study's own report.md and report.html (figure paths relative to its folder)."""
    path = folder / "report.md"
    path.write_text(markdown(section, level=1) + "\n")
    return path, write_html([section], folder, section.title, prefix=lambda s: "")


def _inline(text: str) -> str:
    """Escaped text with the Markdown we use inline: `code`, **bold**, *italic*."""
    text = html.escape(text)
    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", text)
    text = re.sub(r"\*\*([^*]+)\*\*", r"<b>\1</b>", text)
    return re.sub(r"\*([^*]+)\*", r"<i>\1</i>", text)


def html_section(section: Section, prefix: str = "", first_figure: int = 1, *, heading: bool = True) -> str:
    """The section as HTML showing its PNGs from prefix/... (linked, never embedded: a page of embedded
    figures doubles their size in the repository). `heading=False` leaves out the title (a page of one section
    already has it)."""
    parts = [f'<section id="{html.escape(section.name)}">']
    if heading:
        parts.append(f"<h2>{_inline(section.title)}</h2>")
    if section.header:
        parts.append(f'<p class="header">{_inline(section.header)}</p>')
    parts.append(f"<p>{_inline(' '.join(section.findings))}</p>")
    for number, figure in enumerate(section.figures, start=first_figure):
        png = f"{prefix}{figure.path}.png"
        parts.append(
            f'<figure><a href="{html.escape(png)}"><img src="{html.escape(png)}" '
            f'alt="Figure {number}. {html.escape(figure.caption)}"></a><figcaption><b>Figure {number}.</b> '
            f"{_inline(figure.caption)}</figcaption></figure>"
        )
    for table in section.tables:
        source = f' (<a href="{html.escape(prefix + table.csv_name)}">CSV</a>)' if table.csv_name else ""
        head = "".join(f"<th>{_inline(c)}</th>" for c in table.columns)
        body = "".join("<tr>" + "".join(f"<td>{_inline(str(c))}</td>" for c in row) + "</tr>" for row in table.rows)
        parts.append(f"<p><b>{_inline(table.title)}</b>{source}</p>")
        parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
    if section.setup:
        parts.append("<h3>Setup</h3><ul>" + "".join(f"<li>{_inline(s)}</li>" for s in section.setup) + "</ul>")
    parts.append("</section>")
    return "\n".join(parts)


_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; }
img { max-width: 100%; border: 1px solid #ddd; }
figure { margin: 1.5em 0; } figcaption { font-size: 0.9em; color: #444; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
code { background: #f4f4f4; padding: 0 0.2em; }
.header { font-size: 0.85em; color: #555; }
"""


def write_html(sections: list[Section], root: Path, title: str, prefix) -> Path:
    """root/report.html: the sections with their figures (linked files), numbered across the whole page."""
    links = "".join(f'<li><a href="#{html.escape(s.name)}">{_inline(s.title)}</a></li>' for s in sections)
    bodies, number = [], 1
    for section in sections:
        bodies.append(
            html_section(section, prefix=prefix(section), first_figure=number, heading=section.title != title)
        )
        number += len(section.figures)
    contents = f"<ul>{links}</ul>\n" if len(sections) > 1 else ""
    page = (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>{contents}"
        + "\n".join(bodies)
        + "\n</body></html>\n"
    )
    (root / "report.html").write_text(page)
    return root / "report.html"


def write_combined(
    sections: list[Section], root: Path, title: str, folders: dict[str, Path] | None = None
) -> tuple[Path, Path]:
    """root/report.md and root/report.html for studies written to root/<folder>/ (`folders` by section name;
    the section's name by default)."""
    folders = folders or {}

    def prefix(section: Section) -> str:
        return f"{folders.get(section.name, section.name)}/"

    contents = [f"- [{s.title}](#{s.name})" for s in sections]
    md, number = [f"# {title}", "", *contents, ""], 1
    for section in sections:
        md.append(markdown(section, prefix=prefix(section), first_figure=number))
        number += len(section.figures)
    (root / "report.md").write_text("\n".join(md) + "\n")
    return root / "report.md", write_html(sections, root, title, prefix=prefix)
