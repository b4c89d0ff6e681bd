import os
import sys
from pathlib import Path

import numpy as np
import pytest
from matplotlib.colors import to_rgb

from wganlab.errors import ConfigError
from wganlab.studies.common import style
from wganlab.studies.common.registry import all_studies, load_study, study_names
from wganlab.studies.common.report import (
    Figure,
    Section,
    Table,
    fmt,
    markdown,
    markdown_table,
    mean_std,
    provenance,
    read_csv,
    save_figure,
    write_combined,
    write_csv,
    write_section,
)
from wganlab.studies.common.study import make_plan, run_study


def test_number_formatting():
    assert fmt(0.123456) == "0.123"
    assert fmt(0.0) == "0"
    assert fmt(4.64e-9) == "4.64e-09"
    assert fmt(float("nan")) == "n/a"
    assert fmt(104.2, 2) == "100"  # not "1e+02"
    assert fmt(-1234.5) == "-1230"
    assert fmt(999.6) == "1000"
    assert fmt(99.96, 2) == "100"
    assert fmt(54.3, 2) == "54"
    assert mean_std([1.0, 3.0]) == "2 ± 1.4"  # sample std sqrt(2)
    assert mean_std([0.5]) == "0.5"


def test_plain_log_ticks_label_one_two_five_per_decade():
    with style.rc():
        figure, axes = style.figure(width=4, height=3)
        axis = axes[0, 0]
        axis.plot([150, 4000], [0.03, 0.7])
        axis.set(xscale="log", yscale="log", xlim=(150, 4000), ylim=(0.03, 0.7))
        style.plain_log_ticks(axis)
        figure.canvas.draw()
        shown = [t.get_text() for t in axis.get_xticklabels() if 150 <= t.get_position()[0] <= 4000]
        assert shown == ["200", "500", "1000", "2000"]
        shown = [t.get_text() for t in axis.get_yticklabels() if 0.03 <= t.get_position()[1] <= 0.7]
        assert shown == ["0.05", "0.1", "0.2", "0.5"]
        assert not any(t.get_text() for t in axis.get_xticklabels(minor=True))


def test_ordered_colours_are_distinct_and_run_dark_to_light():
    colours = style.ordered_colours(5)
    assert len(set(colours)) == 5 and colours == style.ordered_colours(5)
    assert colours[0] == "#440154"  # viridis at 0
    # Lightness (the mean of R, G, B) rises along the order: a reader can tell small c from large without a legend.
    light = [sum(to_rgb(c)) / 3 for c in colours]
    assert light == sorted(light) and light[-1] < 0.8  # the palest end (near white) left out
    assert style.ordered_colours(1) == ["#440154"]


def test_markdown_table():
    assert markdown_table(["a", "b"], [["1", "2"]]) == "| a | b |\n|---|---|\n| 1 | 2 |"


def section_with_figure(folder) -> Section:
    with style.rc():
        figure, axes = style.figure(width=3, height=2)
        axes[0, 0].plot([0, 1], [0, 1])
        path = save_figure(figure, folder, "line")
    write_csv(folder / "numbers.csv", [{"x": 0.1, "y": 2}])
    return Section(
        name="demo-study",
        title="A `study`",
        findings=["Measured 1 < 2."],
        setup=["tiny"],
        figures=[Figure(path, "a line")],
        tables=[Table("numbers", ["x", "y"], [["0.1", "2"]], "numbers.csv")],
    )


def test_figures_are_reproducible_and_in_one_format(tmp_path):
    for name in ("a", "b"):
        section_with_figure(tmp_path / name)
    a, b = (tmp_path / n / "plots" / "line.png" for n in ("a", "b"))
    assert a.read_bytes() == b.read_bytes()
    assert sorted(p.name for p in (tmp_path / "a" / "plots").iterdir()) == ["line.png"]


def test_combined_report_shows_every_figure_from_its_file(tmp_path):
    section = section_with_figure(tmp_path / "demo-study")
    md_path, html_path = write_combined([section], tmp_path, "title")
    md, page = md_path.read_text(), html_path.read_text()
    assert "![Figure 1. a line](demo-study/plots/line.png)" in md and ".svg" not in md
    assert "<b>Figure 1.</b> a line" in page
    # The page shows the figure from its file and embeds nothing: it stays a few kB however large the figures.
    assert '<img src="demo-study/plots/line.png"' in page and "base64" not in page and ".svg" not in page
    assert len(page.encode()) < 4096
    assert 'href="demo-study/numbers.csv"' in page
    assert "<code>study</code>" in page and "1 &lt; 2" in page
    assert markdown(section).startswith('<a id="demo-study"></a>\n\n## A `study`')


def test_figures_are_numbered_across_a_combined_report(tmp_path):
    first, second = (section_with_figure(tmp_path / name) for name in ("one", "two"))
    second.name, second.figures = "two", second.figures * 2
    first.name = "one"
    md, _ = write_combined([first, second], tmp_path, "t", folders={"one": "one", "two": "two"})
    text = md.read_text()
    assert [text.count(f"**Figure {n}.**") for n in (1, 2, 3, 4)] == [1, 1, 1, 0]


def test_every_report_carries_its_provenance(tmp_path):
    section = section_with_figure(tmp_path)
    section.header = provenance("default", 3, 12, 7200.0, command="wganlab study x")
    md_path, html_path = write_section(section, tmp_path)
    text = md_path.read_text()
    assert "wganlab 0.1.0" in text and "`wganlab study x`" in text and "3 seeds, 12 runs, 2.00 h" in text
    cores = len(os.sched_getaffinity(0))  # what this process may use: 1 under `taskset -c 0`
    assert f", {cores} core{'' if cores == 1 else 's'};" in text and "torch " in text and "UTC" in text
    assert "wganlab study x" in html_path.read_text()


def test_csv_numbers_are_plain_numbers(tmp_path):
    write_csv(tmp_path / "n.csv", [{"a": np.float64(5.0), "b": np.int64(3), "c": 0.1, "d": True, "e": "x"}])
    assert (tmp_path / "n.csv").read_text().splitlines()[1] == "5.0,3,0.1,True,x"
    assert read_csv(tmp_path / "n.csv")[0]["a"] == "5.0"


def test_registry_and_errors(tmp_path):
    # The registry lists exactly the package's study modules (by file name), sorted; a new study needs no entry here.
    package = Path(__file__).resolve().parents[2] / "src" / "wganlab" / "studies"
    files = sorted(p.stem.replace("_", "-") for p in package.glob("*.py") if not p.name.startswith("_"))
    if files:  # a checkout (an installed wheel is read from site-packages instead)
        assert study_names() == files
    assert {"distances", "toy-training", "loss-vs-quality", "random-architectures"} <= set(study_names())
    with pytest.raises(ConfigError, match="unknown study"):
        run_study("distance", out=tmp_path)
    with pytest.raises(ConfigError, match="seeds"):
        run_study("distances", seeds=0, out=tmp_path)
    with pytest.raises(ConfigError, match="jobs"):
        run_study("distances", jobs=0, out=tmp_path)


def test_every_study_module_declares_what_the_registry_reads():
    kinds = {}
    for name in study_names():
        module = load_study(name)
        kinds[name] = (module.KIND, module.TAKES_DATA)
        assert callable(module.plan) and callable(module.collect)
    # The image studies take --data, except random-architectures (its metric and space are Fashion-MNIST's).
    assert {n for n, (kind, _) in kinds.items() if kind == "toy"} == {
        "distances", "critic-response-1d", "value-surface", "toy-training", "loss-vs-quality-toy"
    }  # fmt: skip
    assert all(takes == (kind == "image" and n != "random-architectures") for n, (kind, takes) in kinds.items())
    assert [m.NAME for m in all_studies()][:5] == sorted(n for n, (k, _) in kinds.items() if k == "toy")


ONE_FILE_STUDY = """
from wganlab.studies.common.report import Section
from wganlab.studies.common.runner import Plan, Run

NAME = "one-file"
KIND = "toy"
TAKES_DATA = False


def plan(size, seeds):
    runs = [Run(f"seed-{seed}", task=True, labels=(("seed", seed),)) for seed in range(seeds or 2)]
    return Plan(NAME, size, seeds or 2, runs, {"square_of": "seed"})


def run_task(plan, run, folder):
    return {"square": run.label("seed") ** 2}


def collect(plan, study_dir):
    import json

    squares = [json.loads((plan.folder(study_dir, r) / "result.json").read_text())["square"] for r in plan.runs]
    return Section(NAME, "One file", [f"squares {squares}"])
"""


def test_a_new_study_is_one_file(tmp_path, monkeypatch, in_process):
    # A module dropped into the package is a study: listed, planned, run and collected with nothing else changed.
    import wganlab.studies

    package = tmp_path / "package"
    package.mkdir()
    (package / "one_file.py").write_text(ONE_FILE_STUDY)
    monkeypatch.setattr(wganlab.studies, "__path__", [*wganlab.studies.__path__, str(package)])
    monkeypatch.delitem(sys.modules, "wganlab.studies.one_file", raising=False)
    assert "one-file" in study_names()
    plan = make_plan("one-file", "quick", 3)
    in_process(plan, tmp_path / "study")
    report = run_study("one-file", size="quick", seeds=3, out=tmp_path / "study", mode="collect")
    assert "squares [0, 1, 4]" in report.read_text()
    with pytest.raises(ConfigError, match=r"--data applies to the studies that take data \(architecture-grid, "):
        make_plan("one-file", "quick", 3, data="fashion_mnist/gan")
    (package / "broken_one.py").write_text('NAME = "other"\nKIND = "toy"\nTAKES_DATA = False\n')
    with pytest.raises(TypeError, match="broken_one is not a study module: .* NAME = 'broken-one'"):
        load_study("broken-one")


@pytest.mark.slow
def test_distances_through_the_registry_and_the_runner(tmp_path):
    report = run_study("distances", size="quick", jobs=2, out=tmp_path / "d", progress=False)
    text = report.read_text()
    assert "\n# JS divergence vs Wasserstein-1" in text and "quick size, 2 seeds" in text
    assert "(plots/distances.png)" in text and (tmp_path / "d" / "timing.json").exists()
    assert (tmp_path / "d" / "report.html").exists()


@pytest.mark.slow
@pytest.mark.long  # 24 min: every study's quick report; each study's own quick test stays in CI's slow tier
def test_all_quick(tmp_path):
    report = run_study("all", size="quick", jobs=2, out=tmp_path, progress=False)
    page = (tmp_path / "report.html").read_text()
    for name in study_names():
        assert (tmp_path / f"{name}-quick" / "report.md").exists()
        assert f'id="{name}"' in page
    assert report.read_text().count("![") >= 8


def test_a_pipe_inside_a_cell_does_not_split_a_markdown_table():
    table = markdown_table(["C", "|dJS/dd| at 2"], [["0.1", "|x| = 2"]])
    assert table.splitlines() == ["| C | \\|dJS/dd\\| at 2 |", "|---|---|", "| 0.1 | \\|x\\| = 2 |"]
