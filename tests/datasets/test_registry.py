"""`wganlab datasets`: one line per dataset module, found by file name like every plug-in, without loading torch."""

import subprocess
import sys
from pathlib import Path

import pytest

import wganlab.datasets
from wganlab.cli import main
from wganlab.datasets import DATASETS, listing
from wganlab.plugins import module_name


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


def test_every_module_is_the_dataset_its_file_names():
    folder = Path(wganlab.datasets.__path__[0])
    files = sorted(p.stem.replace("_", "-") for p in folder.glob("*.py") if not p.name.startswith("_"))
    assert files == sorted(DATASETS)
    for name in DATASETS:
        assert DATASETS[name].name == name


@pytest.fixture
def extra_folder(tmp_path, monkeypatch):
    """A second folder on the package's path: a file written there is a module of wganlab.datasets."""
    monkeypatch.setattr(wganlab.datasets, "__path__", [*wganlab.datasets.__path__, str(tmp_path)])
    yield tmp_path
    for name in ("mnist_m", "broken"):
        sys.modules.pop(module_name(wganlab.datasets, name), None)


def test_a_new_dataset_is_one_file(extra_folder, capsys):
    (extra_folder / "mnist_m.py").write_text(
        "from wganlab.datasets import Dataset\n"
        'NAME = "mnist-m"\n'
        'DATASET = Dataset(name=NAME, source="by hand: the MNIST-M archive", licence="research", '
        'size="59,001 images, 28x28 RGB", get="data.source=folder data.path=DIR")\n'
    )
    assert "mnist-m" in DATASETS and DATASETS["mnist-m"].size == "59,001 images, 28x28 RGB"
    assert main(["datasets"]) == 0
    assert any(line.startswith("mnist-m ") for line in capsys.readouterr().out.splitlines())


def test_a_module_that_does_not_declare_its_name_is_refused(extra_folder):
    (extra_folder / "broken.py").write_text('NAME = "something-else"\nDATASET = None\n')
    with pytest.raises(TypeError, match=r"wganlab\.datasets\.broken is not a dataset module: it needs NAME = 'broken'"):
        DATASETS["broken"]


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
