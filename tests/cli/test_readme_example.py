"""The README's durable example and the command line's defaults agree: run as a user would copy
it (the first Python block of "Quick start" and its durable block, in a fresh directory), then `runic ls` and `runic
show` without any flag find what it stored."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def quick_start_blocks() -> list[str]:
    section = README.read_text().split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, re.S)


def test_the_readme_durable_example_is_found_by_runic_ls_without_flags(cli):
    blocks = quick_start_blocks()
    durable = [b for b in blocks if "Runner.start_link(" in b]
    assert len(durable) == 1, blocks
    script = cli.cwd / "readme_example.py"
    script.write_text(blocks[0] + "\n" + durable[0].replace(
        'runner.get_results("w1", ["double"])', 'print("results:", runner.get_results("w1", ["double"]))'))
    proc = subprocess.run([sys.executable, str(script)], cwd=cli.cwd, env=cli.env, capture_output=True, text=True,
                          timeout=180)
    assert proc.returncode == 0, proc.stderr
    assert "results: {'double': 12}" in proc.stdout, proc.stdout
    listing = cli("ls")
    assert listing.code == 0, listing
    assert re.search(r"\bw1\s+│\s+idle\s+│\s+quick\s+│", listing.out), listing
    shown = cli("show", "w1")
    assert shown.code == 0 and re.search(r"double\s+│\s+step\s+│\s+1\s+│\s+12", shown.out), shown
    words = " ".join(README.read_text().split())
    assert "named after Mnesia, the Erlang database" in words, "why a SQLite store is called MnesiaStore"
