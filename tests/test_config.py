from pathlib import Path

import pytest

from wganlab.config import RunConfig, differences, load_config, to_toml
from wganlab.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def test_objective_name_alone_gives_the_published_settings():
    wgan = load_config(None, ["objective.name=wgan"])
    assert (
        wgan.optim.optimizer,
        wgan.optim.critic_lr,
        wgan.objective.clip_value,
        wgan.objective.n_critic,
        wgan.train.batch_size,
    ) == ("rmsprop", 5e-5, 0.01, 5, 64)
    gp = load_config(None, ["objective.name=wgan-gp"])
    assert (
        gp.optim.optimizer,
        gp.optim.critic_lr,
        gp.optim.betas,
        gp.objective.penalty_weight,
        gp.objective.n_critic,
    ) == ("adam", 1e-4, (0.0, 0.9), 10.0, 5)
    gan = load_config(None, ["objective.name=gan"])
    assert (gan.optim.critic_lr, gan.optim.betas, gan.objective.n_critic) == (2e-4, (0.5, 0.999), 1)
    assert (gan.objective.loss, gan.objective.constraint) == ("standard", "none")
    assert (wgan.objective.loss, wgan.objective.constraint) == ("wasserstein", "clip")
    assert (gp.objective.loss, gp.objective.constraint) == ("wasserstein", "penalty")


def test_precedence_defaults_then_file_then_overrides(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text('[objective]\nname = "wgan"\nclip_value = 0.05\n[train]\nsteps = 10\n')
    config = load_config(path, ["train.steps=20", "model.critic_widths=8,16"])
    assert config.objective.clip_value == 0.05  # file beats the published default
    assert config.train.steps == 20  # override beats the file
    assert config.model.critic_widths == (8, 16)
    assert config.optim.optimizer == "rmsprop"  # published default under the file


def test_resolved_config_round_trips_through_toml(tmp_path):
    config = load_config(None, ["objective.name=gan", "data.source=swiss_roll", "optim.betas=0.1,0.2", "name=x"])
    path = tmp_path / "config.toml"
    path.write_text(to_toml(config))
    assert load_config(path) == config
    assert isinstance(config, RunConfig)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("train.stepz=3", "unknown key train.stepz in override; did you mean 'steps'?"),
        ("trian.steps=3", "unknown section 'trian' in override; did you mean 'train'?"),
        ("optim.critic_lr=0", "optim.critic_lr=0.0 must be a finite number > 0"),
        ("objective.n_critic=0", "objective.n_critic=0 must be an integer >= 1"),
        ("objective.clip_value=-1", "objective.clip_value=-1.0 must be a finite number > 0"),
        ("objective.name=wgan_gp", "did you mean 'wgan-gp'?"),
        ("train.steps=ten", "override: train.steps='ten' is not a valid int"),
        ("train.steps", "must look like section.key=value"),
        ("data.source=mnist", "data.source='mnist' is not one of"),
    ],
)
def test_bad_values_give_one_line_errors_naming_the_key(override, message):
    with pytest.raises(ConfigError) as caught:
        load_config(None, [override])
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_evaluations_and_eval_every_are_one_or_the_other():
    assert load_config(None, ["log.evaluations=25"]).log.evaluations == 25
    with pytest.raises(ConfigError, match=r"^log\.evaluations=25 and log\.eval_every=100 both set when to evaluate; "
                                          r"give one of them \(the other 0\)$"):  # fmt: skip
        load_config(None, ["log.evaluations=25", "log.eval_every=100"])
    with pytest.raises(ConfigError, match="log.evaluations=-1"):
        load_config(None, ["log.evaluations=-1"])


def test_missing_and_broken_files_are_named(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[train\nsteps = 1")
    with pytest.raises(ConfigError, match="broken.toml is not valid TOML"):
        load_config(broken)


def test_every_shipped_config_loads():
    paths = sorted((ROOT / "configs").rglob("*.toml"))
    assert len(paths) >= 18
    for path in paths:
        load_config(path)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["model.generator_activation=elu"], "model.generator_activation='elu' is not one of relu, leaky_relu, soft"),
        (["model.dcgan_critic_activation=selu"], "model.dcgan_critic_activation='selu' is not one of"),
        (["model.critic_depth=-1"], "model.critic_depth=-1 must be an integer >= 0"),
        (["optim.lr_decay=cosine"], "optim.lr_decay='cosine' is not one of none, linear"),
        (["optim.lr_decay_steps=100"], "optim.lr_decay_steps=100 needs optim.lr_decay='linear'"),
        (
            ["data.source=cifar10", "model.architecture=resnet", "model.generator_depth=8"],
            "model.generator_depth=8 has no effect with model.architecture='resnet' (only dcgan)",
        ),
        (
            ["data.source=cifar10", "model.architecture=dcgan", "model.critic_activation=tanh"],
            "model.critic_activation='tanh' has no effect with model.architecture='dcgan' (only mlp)",
        ),
    ],
)
def test_architecture_and_decay_settings_are_checked(overrides, message):
    with pytest.raises(ConfigError) as caught:
        load_config(None, overrides)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_new_model_and_optim_keys_default_to_todays_networks_and_rates(tmp_path):
    config = load_config(None, ["data.source=cifar10", "model.architecture=dcgan"])
    model, optim = config.model, config.optim
    assert (model.generator_activation, model.critic_activation, model.dcgan_critic_activation) == (
        "relu",
        "relu",
        "leaky_relu",
    )
    assert (model.generator_depth, model.critic_depth, model.generator_channels, model.critic_channels) == (0,) * 4
    assert (model.generator_base, model.critic_base) == (model.channels, model.channels)
    assert (optim.lr_decay, optim.lr_decay_steps) == ("none", 0)
    # A run folder's config.toml written before these keys existed reads back without differences, so old runs
    # resume and studies reuse them.
    new_keys = ("generator_activation", "dcgan_critic_activation", "_channels", "_depth", "lr_decay")
    old = "\n".join(line for line in to_toml(config).splitlines() if not any(key in line for key in new_keys))
    assert "lr_decay" not in old and "generator_depth" not in old
    (tmp_path / "config.toml").write_text(old)
    assert differences(load_config(tmp_path / "config.toml"), config) == []
