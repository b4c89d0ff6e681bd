"""Losses, constraints and recipes are found by module: a file dropped into `wganlab.objectives.losses`,
`.constraints` or `.recipes` is an objective.loss, objective.constraint or objective.name, validated, built and
trained with nothing else changed (no decorator, no list in the config, the help or the objectives package)."""

import subprocess
import sys
from importlib import import_module
from pathlib import Path

import pytest
import torch

import wganlab.objectives.constraints
import wganlab.objectives.losses
import wganlab.objectives.recipes
from wganlab.config import choices_help, load_config
from wganlab.errors import ConfigError
from wganlab.objectives import (
    CONSTRAINTS,
    LOSSES,
    RECIPES,
    GradientPenalty,
    Hinge,
    NoConstraint,
    SpectralNorm,
    StandardGAN,
    Wasserstein,
    WeightClip,
    build_objective,
    estimate_name,
)
from wganlab.plugins import module_name
from wganlab.training import loop
from wganlab.training.run_folder import RunFolder

PACKAGES = {
    "losses": wganlab.objectives.losses,
    "constraints": wganlab.objectives.constraints,
    "recipes": wganlab.objectives.recipes,
}
# The least-squares GAN (Mao et al. 2017, eq. 2 with a = -1, b = 1, c = 0): its own estimate key, so the test sees
# that logging reads it from the loss.
ONE_FILE_LOSS = """
NAME = "least_squares"


class LeastSquares:
    estimate_name = "ls_gap"

    @classmethod
    def from_config(cls, config, context):
        return cls()

    def critic_loss(self, real_scores, fake_scores):
        return ((real_scores - 1) ** 2).mean() / 2 + ((fake_scores + 1) ** 2).mean() / 2

    def generator_loss(self, fake_scores):
        return (fake_scores**2).mean() / 2

    def estimate(self, real_scores, fake_scores):
        return real_scores.mean() - fake_scores.mean()


LOSS = LeastSquares
"""
# Every critic parameter rescaled to an L2 norm of at most objective.clip_value after each critic update.
ONE_FILE_CONSTRAINT = """
import torch

from wganlab.objectives.constraints.none import NoConstraint

NAME = "max_norm"


class MaxNorm(NoConstraint):
    def __init__(self, bound):
        self.bound = bound

    @classmethod
    def from_config(cls, config, context):
        return cls(config.clip_value)

    @torch.no_grad()
    def after_critic_step(self, critic):
        for param in critic.parameters():
            param.mul_((self.bound / param.norm()).clamp(max=1.0))


CONSTRAINT = MaxNorm
"""
# WGAN-LP (Petzka et al. 2018): WGAN-GP's loss and penalty, one-sided. Its file name has an underscore, its name a
# dash, as wgan_gp.py and wgan-gp.
ONE_FILE_RECIPE = """
from wganlab.objectives.registry import Recipe

NAME = "wgan-lp"
RECIPE = Recipe(
    NAME,
    loss="wasserstein",
    constraint="penalty",
    reference="WGAN-LP (Petzka et al. 2018): the gradient penalty, one-sided",
    settings={"objective": {"n_critic": 5, "penalty_weight": 10.0, "penalty_kind": "one_sided"}},
)
"""


@pytest.fixture
def packages(tmp_path, monkeypatch):
    """A folder added to each objectives package's path; its modules are forgotten afterwards."""
    folders = {}
    for kind, package in PACKAGES.items():
        folder = folders[kind] = tmp_path / kind
        folder.mkdir()
        monkeypatch.setattr(package, "__path__", [*package.__path__, str(folder)])
        for name in ("least_squares", "max_norm", "wgan_lp", "broken", "wgan_x"):
            monkeypatch.delitem(sys.modules, f"{package.__name__}.{name}", raising=False)
    return folders


def test_the_shipped_objectives_are_the_package_files():
    assert dict(LOSSES) == {"hinge": Hinge, "standard": StandardGAN, "wasserstein": Wasserstein}
    assert dict(CONSTRAINTS) == {
        "clip": WeightClip,
        "none": NoConstraint,
        "penalty": GradientPenalty,
        "spectral": SpectralNorm,
    }
    assert list(RECIPES) == ["gan", "sngan", "wgan", "wgan-gp"]
    for kind, table in (("losses", LOSSES), ("constraints", CONSTRAINTS), ("recipes", RECIPES)):
        package = PACKAGES[kind]
        files = sorted(p.stem for p in Path(package.__path__[0]).glob("*.py") if not p.name.startswith("_"))
        assert [module_name(package, name).rpartition(".")[2] for name in table] == files
        for name in table:  # each module's NAME is its name (load_plugin checks it; this says so plainly)
            assert import_module(module_name(package, name)).NAME == name
    assert module_name(wganlab.objectives.recipes, "wgan-gp") == "wganlab.objectives.recipes.wgan_gp"
    for name, recipe in RECIPES.items():
        assert recipe.name == name and recipe.loss in LOSSES and recipe.constraint in CONSTRAINTS


def test_listing_the_objectives_and_resolving_a_recipe_import_no_torch():
    code = (
        "import sys\nfrom wganlab.config import choices_help\nfrom wganlab.objectives import RECIPES\n"
        "print(choices_help()['objective.name'], RECIPES['wgan-gp'].defaults()['objective']['constraint'])\n"
        "print('torch' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.splitlines() == ["gan, sngan, wgan, wgan-gp penalty", "False"]


def test_a_new_loss_is_one_file(packages, tiny_config, tmp_path):
    (packages["losses"] / "least_squares.py").write_text(ONE_FILE_LOSS)
    assert list(LOSSES) == ["hinge", "least_squares", "standard", "wasserstein"]
    assert "least_squares" in choices_help()["objective.loss"].split(", ")
    config = tiny_config("gan", "objective.loss=least_squares", "train.steps=2", "log.log_every=1")
    loss, constraint = build_objective(config.objective)
    assert type(loss) is LOSSES["least_squares"] and type(constraint) is NoConstraint
    scores = torch.tensor([1.0, -1.0])
    assert loss.critic_loss(scores[:1], scores[1:]) == 0  # real at b = 1, fake at a = -1: the critic's optimum
    loop.train(config, tmp_path / "run", progress=False)
    records = RunFolder(tmp_path / "run").records("train")
    assert [r["step"] for r in records] == [1, 2] and all("ls_gap" in r for r in records)


def test_a_new_constraint_is_one_file(packages, tiny_config, tmp_path):
    (packages["constraints"] / "max_norm.py").write_text(ONE_FILE_CONSTRAINT)
    assert list(CONSTRAINTS) == ["clip", "max_norm", "none", "penalty", "spectral"]
    assert "max_norm" in choices_help()["objective.constraint"].split(", ")
    config = tiny_config("wgan", "objective.constraint=max_norm", "objective.clip_value=0.05", "train.steps=2")
    _, constraint = build_objective(config.objective)
    assert type(constraint).__name__ == "MaxNorm" and constraint.bound == 0.05
    s = loop.train(config, tmp_path / "run", progress=False)
    norms = [float(p.detach().norm()) for p in s.critic.network.parameters()]
    # The three weight matrices start longer than 0.05 (N(0, 0.02) init) and end at it; the biases stay shorter.
    assert max(norms) <= 0.05 + 1e-6 and sum(abs(n - 0.05) < 1e-6 for n in norms) == 3


def test_a_new_recipe_is_one_file_with_a_dashed_name(packages):
    (packages["recipes"] / "wgan_lp.py").write_text(ONE_FILE_RECIPE)
    assert list(RECIPES) == ["gan", "sngan", "wgan", "wgan-gp", "wgan-lp"] and "wgan_lp" not in RECIPES
    assert choices_help()["objective.name"] == "gan, sngan, wgan, wgan-gp, wgan-lp"
    config = load_config(None, ["objective.name=wgan-lp"])
    o = config.objective
    assert (o.loss, o.constraint, o.penalty_kind, o.n_critic) == ("wasserstein", "penalty", "one_sided", 5)
    assert estimate_name("wgan-lp") == "w_estimate"
    _, constraint = build_objective(o)
    assert isinstance(constraint, GradientPenalty) and constraint.one_sided
    with pytest.raises(ConfigError, match=r"objective.name='wgan_lp' is not one of .* \(did you mean 'wgan-lp'\?\)"):
        load_config(None, ["objective.name=wgan_lp"])


def test_a_module_without_the_declarations_is_named(packages):
    (packages["losses"] / "broken.py").write_text('NAME = "other"\n')
    with pytest.raises(
        TypeError, match=r"wganlab.objectives.losses.broken is not a loss module: it needs NAME = 'broken' and LOSS"
    ):
        LOSSES["broken"]
    with pytest.raises(TypeError, match="is not a loss module"):
        build_objective(load_config(None, ["objective.loss=broken"]).objective)
    (packages["constraints"] / "broken.py").write_text('NAME = "broken"\n')
    with pytest.raises(TypeError, match=r"constraints.broken is not a constraint module: .*\(missing: CONSTRAINT\)"):
        CONSTRAINTS["broken"]
    # A recipe's NAME has the dash its file name cannot: NAME = "wgan_x" in wgan_x.py is wrong.
    (packages["recipes"] / "wgan_x.py").write_text('NAME = "wgan_x"\nRECIPE = None\n')
    with pytest.raises(TypeError, match=r"recipes.wgan_x is not a recipe module: it needs NAME = 'wgan-x'"):
        load_config(None, ["objective.name=wgan-x"])


def test_an_unknown_name_is_refused_with_the_choices():
    with pytest.raises(KeyError):
        LOSSES["nope"]
    assert "nope" not in LOSSES and "" not in RECIPES
    with pytest.raises(ConfigError, match="objective.loss='nope' is not one of hinge, standard, wasserstein"):
        load_config(None, ["objective.loss=nope"])
    with pytest.raises(ConfigError, match="objective.constraint='clipp' is not one of clip, none, penalty, spectral"):
        load_config(None, ["objective.constraint=clipp"])
