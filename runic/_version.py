"""``runic.__version__``: the version of the installed distribution, one source for it.

The version is written once, in ``pyproject.toml``; installing runic (``pip install``, also
``pip install -e .``) records it in the distribution's metadata, which :func:`version` reads
with :func:`importlib.metadata.version`. Running from a source tree that was never installed
(``PYTHONPATH=/path/to/checkout``), there is no metadata: the version is then read from the
``pyproject.toml`` beside the package, and is ``"0+unknown"`` if that cannot be read either.

Decision: ``runic/__init__.py`` looks the version up on first access of
``runic.__version__`` (a module ``__getattr__``), not at import: ``importlib.metadata``
costs about 17 ms to import, a fifth of ``import runic``, which every worker host and every
command-line call pays. The result is cached.
"""

from __future__ import annotations

import functools
from pathlib import Path

__all__ = ["DISTRIBUTION", "version", "module_getattr"]

DISTRIBUTION = "runic-workflows"
"""The distribution name on the package index (the import name is ``runic``)."""

UNKNOWN = "0+unknown"


def _from_source_tree() -> str | None:
    """The ``[project] version`` of the ``pyproject.toml`` next to this package, if it is runic's."""
    import tomllib

    pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
    try:
        with pyproject.open("rb") as fh:
            project = tomllib.load(fh).get("project", {})
    except (OSError, tomllib.TOMLDecodeError):
        return None
    if project.get("name") != DISTRIBUTION or not isinstance(project.get("version"), str):
        return None
    return str(project["version"])


@functools.cache
def version() -> str:
    """The installed version of ``runic-workflows`` (see the module docs for the fallbacks)."""
    from importlib import metadata

    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return _from_source_tree() or UNKNOWN


def module_getattr(name: str) -> str:
    """The ``__getattr__`` of the ``runic`` package: computes ``__version__`` on first use."""
    if name == "__version__":
        return version()
    raise AttributeError(f"module 'runic' has no attribute {name!r}")
