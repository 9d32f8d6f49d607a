"""The dashboard's files reach users: every page, script, style and vendored file is in the
wheel, byte for byte, and the vendored library's licence ships beside it."""

from __future__ import annotations

import zipfile
from pathlib import Path

from runic.ui.assets import VENDORED

from ..test_packaging import wheel  # noqa: F401 - the module-scoped fixture that builds the wheel

ROOT = Path(__file__).resolve().parents[2]
UI = ROOT / "runic" / "ui"


def test_every_dashboard_file_is_in_the_wheel(wheel: Path) -> None:
    files = [p for sub in ("static", "pages") for p in (UI / sub).rglob("*") if p.is_file()]
    assert len(files) >= 9
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        for path in files:
            name = path.relative_to(ROOT).as_posix()
            assert name in names, f"{name} is missing from the wheel (pyproject.toml package-data)"
            assert z.read(name) == path.read_bytes(), name
    for v in VENDORED:
        assert f"runic/ui/static/{v.path}" in names
    assert "runic/ui/static/vendor/dagre.LICENSE.txt" in names
