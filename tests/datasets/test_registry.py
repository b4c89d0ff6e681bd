"""`wganlab datasets`: one line per registered dataset, read from the registry, without loading torch."""

import subprocess
import sys

import pytest

from wganlab.cli import main
from wganlab.datasets import DATASETS, Dataset, listing, register_dataset


def test_every_dataset_the_project_reads_is_registered():
    assert sorted(DATASETS) == [
        "anime-faces", "carvana", "celeba", "cifar-10", "fashion-mnist", "stacked-fashion-mnist", "twemoji",
    ]  # fmt: skip
    assert [name for name, d in DATASETS.items() if d.build is not None] == ["stacked-fashion-mnist", "twemoji"]
    for name in ("anime-faces", "carvana", "celeba", "cifar-10"):
        assert DATASETS[name].source.startswith("by hand: ")


def test_the_listing_is_one_line_per_dataset_sorted_with_every_field(capsys):
    assert main(["datasets"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == listing() and len(lines) == len(DATASETS)
    assert [line.split()[0] for line in lines] == sorted(DATASETS)
    assert lines[4] == (
        "fashion-mnist          70,000 images (60,000 train, 10,000 test), 28x28 gray, 10 classes | MIT (Zalando SE) | "
        "Debian package dataset-fashion-mnist (Zalando Research), /usr/share/datasets/fashion-mnist | "
        "apt-get install dataset-fashion-mnist; then data.source=idx (its default path)"
    )


def test_a_registered_name_is_taken_once(monkeypatch):
    monkeypatch.setitem(DATASETS, "twemoji", DATASETS["twemoji"])
    with pytest.raises(ValueError, match="dataset 'twemoji' is registered twice"):
        register_dataset(Dataset(name="twemoji", source="", licence="", size="", get=""))


def test_a_dataset_got_by_hand_says_where_in_one_line(capsys):
    assert main(["datasets", "get", "celeba"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert error.startswith("wganlab datasets: error: celeba is not built by wganlab; source: by hand: img_align")
    assert error.rstrip().endswith(
        "use: wganlab train seeds/seed000-celeba-wgan data.source=zip data.path=img_align_celeba.zip"
    )


def test_listing_and_help_import_no_torch_nor_numpy():
    code = (
        "import sys\nfrom wganlab.cli import main\n"
        "for argv in (['datasets', '--help'], ['datasets', 'get', '--help'], ['datasets', 'get', 'twemoji', '--help'],"
        " ['datasets']):\n"
        "    try:\n        main(argv)\n    except SystemExit:\n        pass\n"
        "print('torch' in sys.modules, 'numpy' in sys.modules, 'PIL' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "twemoji" in result.stdout and "--background INT" in result.stdout
    assert result.stdout.splitlines()[-1] == "False False False"
