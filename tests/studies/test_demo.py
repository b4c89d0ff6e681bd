import json

from PIL import Image

from wganlab.studies.demo import run_demo


def test_demo_trains_all_three_objectives_and_reports_their_measured_numbers(tmp_path):
    report = run_demo(tmp_path, steps=8)
    text = report.read_text()
    rows = [line for line in text.splitlines() if line.startswith("| gan") or line.startswith("| wgan")]
    assert [row.split("|")[1].strip() for row in rows] == ["gan", "wgan", "wgan-gp"]
    for objective, row in zip(("gan", "wgan", "wgan-gp"), rows, strict=True):
        evals = [json.loads(line) for line in (tmp_path / objective / "metrics.jsonl").read_text().splitlines()]
        final_w1 = [r["w1"] for r in evals if r["kind"] == "eval"][-1]
        assert row.split("|")[2].strip() == f"{final_w1:.3f}"  # the table shows what the run measured
    width, height = Image.open(tmp_path / "demo.png").size
    assert width > 1000 and height > 500
