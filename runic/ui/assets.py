"""The dashboard's files: its pages, its own script and style, and one vendored library.

Everything the browser loads comes from this package (``runic/ui/static`` and
``runic/ui/pages``); nothing comes from a CDN or any other host, so the dashboard works
offline, and the pages' Content-Security-Policy (``'self'`` only) would block anything else.

Third-party files are vendored **pinned**: :data:`VENDORED` records each one's package,
version, licence and SHA-256, and a test checks the files against it. To upgrade one, replace
the file with the same file of the new release, then update its entry here and the table in
``docs/dashboard.md``.

Only files present when this module is imported are served (:func:`static_file` looks names up
in that list), so a request path can never reach outside the static directory.
"""

from __future__ import annotations

import hashlib
import mimetypes
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

__all__ = ["Vendored", "VENDORED", "static_file", "static_names", "page", "sha256_of"]


@dataclass(frozen=True)
class Vendored:
    """One vendored third-party file: where it lives under ``static/``, what it is, its pin."""

    path: str
    package: str
    version: str
    license: str
    sha256: str
    origin: str


VENDORED: tuple[Vendored, ...] = (
    Vendored(
        path="vendor/dagre.min.js",
        package="@dagrejs/dagre",
        version="3.1.3",
        license="MIT (vendor/dagre.LICENSE.txt)",
        sha256="54a503e346f93ca0bb10abe7999587e037262935687aca45eb4e4b0f64bbb578",
        origin="dist/dagre.min.js of the npm package @dagrejs/dagre 3.1.3 (it bundles @dagrejs/graphlib 4.0.6, "
               "MIT, by the same author); graph layout for the workflow drawing",
    ),
)

_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
          ".html": "text/html; charset=utf-8", ".txt": "text/plain; charset=utf-8", ".svg": "image/svg+xml"}


def _walk(root: resources.abc.Traversable, prefix: str = "") -> list[str]:
    names = []
    for entry in root.iterdir():
        if entry.name.startswith((".", "__")):
            continue
        if entry.is_dir():
            names.extend(_walk(entry, f"{prefix}{entry.name}/"))
        else:
            names.append(prefix + entry.name)
    return names


@lru_cache(maxsize=1)
def static_names() -> frozenset[str]:
    """The names (``app.css``, ``vendor/dagre.min.js``) the dashboard serves under ``/static/``."""
    return frozenset(_walk(resources.files(__package__) / "static"))


def _content_type(name: str) -> str:
    for ext, ctype in _TYPES.items():
        if name.endswith(ext):
            return ctype
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


@lru_cache(maxsize=64)
def static_file(name: str) -> tuple[bytes, str] | None:
    """``(bytes, content type)`` of the static file ``name``, or ``None`` if there is none."""
    if name not in static_names():
        return None
    data = (resources.files(__package__) / "static").joinpath(*name.split("/")).read_bytes()
    return data, _content_type(name)


@lru_cache(maxsize=8)
def page(name: str) -> str:
    """The HTML template ``pages/<name>.html``."""
    return (resources.files(__package__) / "pages" / f"{name}.html").read_text(encoding="utf-8")


def sha256_of(name: str) -> str:
    """The SHA-256 of the static file ``name`` (to check a vendored file against its pin)."""
    found = static_file(name)
    if found is None:
        raise FileNotFoundError(f"no static file {name!r} in the runic.ui package")
    return hashlib.sha256(found[0]).hexdigest()
