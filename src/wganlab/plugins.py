"""Plug-ins found by module: how every extension point of wganlab lists what it holds.

A kind of plug-in (an image data source, a toy or image metric, a study) is a package, and each module of it whose
name does not start with "_" is one plug-in, named after its file. The package lists its plug-ins from its files
(pkgutil: nothing is imported, so `wganlab --help` loads no torch) and imports a plug-in only when it is used,
checking that it declares its NAME and what its kind needs. Nothing else lists them: adding one is one file.
"""

import pkgutil
from importlib import import_module
from types import ModuleType


def plugin_names(package: ModuleType) -> list[str]:
    """The plug-ins of `package`, sorted: its modules' names, without importing them."""
    modules = pkgutil.iter_modules(package.__path__)
    return sorted(m.name for m in modules if not m.ispkg and not m.name.startswith("_"))


def load_plugin(package: ModuleType, name: str, required: tuple[str, ...], what: str) -> ModuleType:
    """The module `name` of `package`, imported; TypeError when it does not declare NAME = name and `required`.

    `name` must be one of `plugin_names(package)`: the caller says which names a user may give, in its own error.
    """
    module = import_module(f"{package.__name__}.{name}")
    missing = [attribute for attribute in ("NAME", *required) if not hasattr(module, attribute)]
    if missing or module.NAME != name:
        raise TypeError(
            f"{module.__name__} is not {what}: it needs NAME = {name!r} and {', '.join(required)} "
            f"(missing: {', '.join(missing) or 'none'})"
        )
    return module
