"""Plug-ins found by module: how every extension point of wganlab lists what it holds.

A kind of plug-in (an image data source, a toy or image metric, a study, a loss, a Lipschitz constraint, a recipe) is
a package, and each module of it whose name does not start with "_" is one plug-in, named after its file. The
package lists its plug-ins from its files (pkgutil: nothing is imported, so `wganlab --help` loads no torch) and
imports a plug-in only when it is used, checking that it declares its NAME and what its kind needs. Nothing else
lists them: adding one is one file.

File name and name: a plug-in's name is its module's name (`masked_folder.py` is masked_folder), except in a
package whose `__init__` sets `DASHED_NAMES = True` (studies, recipes): there the name has a dash wherever the file
name has an underscore (`toy_training.py` is toy-training, `wgan_gp.py` is wgan-gp), since a module's name cannot
hold a dash. Either way each file is one name and each name one file, and the module's NAME must be that name.
"""

import pkgutil
from collections.abc import Iterator, Mapping
from importlib import import_module
from types import ModuleType
from typing import Any


def _dashed(package: ModuleType) -> bool:
    return getattr(package, "DASHED_NAMES", False) is True


def plugin_names(package: ModuleType) -> list[str]:
    """The plug-ins of `package`, sorted: its modules' names (dashed where the package says so), nothing imported."""
    modules = pkgutil.iter_modules(package.__path__)
    names = [m.name for m in modules if not m.ispkg and not m.name.startswith("_")]
    return sorted(name.replace("_", "-") for name in names) if _dashed(package) else sorted(names)


def module_name(package: ModuleType, name: str) -> str:
    """The full name of the module that holds the plug-in `name` of `package`."""
    return f"{package.__name__}.{name.replace('-', '_') if _dashed(package) else name}"


def load_plugin(package: ModuleType, name: str, required: tuple[str, ...], what: str) -> ModuleType:
    """The module `name` of `package`, imported; TypeError when it does not declare NAME = name and `required`.

    `name` must be one of `plugin_names(package)`: the caller says which names a user may give, in its own error.
    """
    module = import_module(module_name(package, name))
    missing = [attribute for attribute in ("NAME", *required) if not hasattr(module, attribute)]
    if missing or module.NAME != name:
        raise TypeError(
            f"{module.__name__} is not {what}: it needs NAME = {name!r} and {', '.join(required)} "
            f"(missing: {', '.join(missing) or 'none'})"
        )
    return module


class PluginTable(Mapping[str, Any]):
    """The plug-ins of `package` as a read-only mapping: name -> what each module declares as `attribute` (a loss
    class, a recipe, ...).

    Its keys are `plugin_names(package)`, read from the files at every use, so iterating it, its length and `in`
    import nothing and a module added to the package is in it at once; reading a value imports that one module
    through `load_plugin` (TypeError for a module that does not declare its NAME and `attribute`).
    """

    def __init__(self, package: ModuleType, attribute: str, what: str):
        self.package, self.attribute, self.what = package, attribute, what

    def __iter__(self) -> Iterator[str]:
        return iter(plugin_names(self.package))

    def __len__(self) -> int:
        return len(plugin_names(self.package))

    def __contains__(self, name: object) -> bool:
        return name in plugin_names(self.package)

    def __getitem__(self, name: str) -> Any:
        if name not in self:
            raise KeyError(name)
        return getattr(load_plugin(self.package, name, (self.attribute,), self.what), self.attribute)

    def __repr__(self) -> str:
        return f"PluginTable({self.package.__name__}: {', '.join(self)})"
