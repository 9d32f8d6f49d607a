"""The dashboard's files reach users: every page, script, style and vendored file is in the
wheel, byte for byte, and the vendored library's licence ships beside it."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from runic.ui.assets import VENDORED

ROOT = Path(__file__).resolve().parents[2]
UI = ROOT / "runic" / "ui"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ui-wheel")
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(out),
                           str(ROOT)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    [built] = list(out.glob("*.whl"))
    return built


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
