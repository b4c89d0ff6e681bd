"""Studies are found by module: every module of `wganlab.studies` is one study, named after its file.

A study module defines:

    NAME: str              its name, the module's name with dashes (checked)
    KIND: str              "toy" or "image": `study all` runs the toys first; the report groups them
    TAKES_DATA: bool       whether `--data PRESET|CONFIG` may replace its data (image studies)
    plan(size, seeds[, data]) -> Plan         the runs it needs (`data` only when TAKES_DATA)
    collect(plan, study_dir) -> Section       its report, from finished run folders only

and may define SEED_RECIPE (the key of the seed recipe `--recipe seed` trains with, `studies/common/recipes.py`,
its `plan` then taking `recipe=`; None with SEED_RECIPE_NOTE saying why it has none), `summary(run, folder) -> str`
(the line printed when a run finishes), `prepare(plan) -> None` (makes what its runs read before any of them
starts, e.g. builds its dataset into the user cache: called before running, for --plan and for --run, never for
--collect) and, for a study whose runs are its own computations rather than training runs,
`run_task(plan, run, folder) -> dict`.

Names are listed from the package's files without importing them (no torch), for `--help`; a study module is
imported when it is used. The package sets `DASHED_NAMES` (`wganlab.plugins`): `toy_training.py` is toy-training.
"""

from types import ModuleType

from wganlab.errors import ConfigError
from wganlab.plugins import load_plugin, plugin_names

KINDS = ("toy", "image")
REQUIRED = ("KIND", "TAKES_DATA", "plan", "collect")


def study_names() -> list[str]:
    """Every study's name, sorted, from the package's module files (nothing imported)."""
    import wganlab.studies  # its __init__ imports nothing

    return plugin_names(wganlab.studies)


def load_study(name: str) -> ModuleType:
    """The study module of `name`; ConfigError naming the choices for an unknown name."""
    import wganlab.studies

    names = study_names()
    if name not in names:
        raise ConfigError(f"unknown study {name!r}; choose one of {', '.join(names)} or all")
    module = load_plugin(wganlab.studies, name, REQUIRED, "a study module")
    if module.KIND not in KINDS:
        raise TypeError(f"{module.__name__}: KIND = {module.KIND!r} is not one of {', '.join(KINDS)}")
    return module


def all_studies(*, takes_data: bool = False) -> list[ModuleType]:
    """Every study (only those that take --data, if asked), toys first, then by name."""
    modules = [load_study(name) for name in study_names()]
    if takes_data:
        modules = [m for m in modules if m.TAKES_DATA]
    return sorted(modules, key=lambda m: (KINDS.index(m.KIND), m.NAME))
