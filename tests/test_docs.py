"""The README and the guides in ``docs/`` stand alone: every link and every file they name is in
the repository, and they cite nothing a reader cannot look up (no "spec §3", no "quirk 12":
such citations pointed at documents that are not shipped; the docs say what they stood for)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = sorted([ROOT / "README.md", ROOT / "CHANGELOG.md", *(ROOT / "docs").glob("*.md")])

LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
REPO_PATH = re.compile(r"(?<![\w./-])((?:\.\./|\./)*(?:[\w.-]+/)*[\w.-]+\.(?:md|py|erl|toml|txt|json|cfg))\b")
UNCITABLE = [
    (re.compile(r"§"), "a section sign (a citation of a document that is not shipped)"),
    (re.compile(r"\bspec(?:ification)?\s+(?:§|section\s+)?\d", re.I), "a citation of the specification"),
    (re.compile(r"\bquirks?\s*(?:no\.?\s*|#)?\d+", re.I), "a numbered quirk"),
    (re.compile(r"\bAPI\.md\b"), "API.md, which is not in the repository"),
    (re.compile(r"(?:^|[\s`(])(?:\.\./)*(?:shared|notes)/", re.M), "a path outside the repository"),
]


def _ids(paths: list[Path]) -> list[str]:
    return [str(p.relative_to(ROOT)) for p in paths]


def _exists(doc: Path, target: str) -> bool:
    target = target.split("#", 1)[0]
    if not target:
        return True  # an anchor in the same page
    for base in (doc.parent, ROOT):
        path = (base / target).resolve()
        if path.exists() and (path == ROOT or ROOT in path.parents):
            return True
    return False


def test_the_docs_are_found():
    names = _ids(DOCS)
    assert "README.md" in names and "CHANGELOG.md" in names and "docs/cli.md" in names, names


@pytest.mark.parametrize("doc", DOCS, ids=_ids(DOCS))
def test_links_point_into_the_repository(doc: Path) -> None:
    text = doc.read_text()
    broken = [t for t in LINK.findall(text)
              if not re.match(r"(?:https?|mailto):", t) and not _exists(doc, t)]
    assert not broken, f"{doc.name} links to files that are not in the repository: {broken}"


@pytest.mark.parametrize("doc", DOCS, ids=_ids(DOCS))
def test_files_named_in_the_text_exist(doc: Path) -> None:
    text = LINK.sub(" ", doc.read_text())  # links are checked above
    text = re.sub(r"https?://\S+", " ", text)
    named = [m for m in REPO_PATH.findall(text) if "/" in m or m.endswith(".md")]  # paths, and documents
    missing = sorted({m for m in named if not _exists(doc, m) and not _generated(m)})
    assert not missing, f"{doc.name} names files that are not in the repository: {missing}"


def _generated(name: str) -> bool:
    """Files the docs name that a user or a tool creates (not shipped)."""
    return name.split("/")[-1] in {"order-7.svg", "flows.py", "shop.py", "orders.py"} or name.endswith(".svg")


@pytest.mark.parametrize("doc", DOCS, ids=_ids(DOCS))
def test_no_citation_a_reader_cannot_look_up(doc: Path) -> None:
    found = []
    for number, line in enumerate(doc.read_text().splitlines(), 1):
        for pattern, what in UNCITABLE:
            if pattern.search(line):
                found.append(f"line {number}: {what}: {line.strip()}")
    assert not found, "\n".join(found)


def test_the_checks_catch_what_they_are_for(tmp_path: Path) -> None:
    """The patterns above flag each kind of reference this test exists to keep out."""
    bad = ["see spec §3.2", "our answer to quirk 16", "the protocol of API.md", "(`../shared/notes/mnesia.md`)",
           "as notes/thespian.md says", "Spec quirk 31 — streams"]
    for line in bad:
        assert any(p.search(line) for p, _ in UNCITABLE), line
    doc = tmp_path / "x.md"
    assert not _exists(doc, "../shared/spec/RUNIC_SEMANTICS.md") and not _exists(ROOT / "README.md", "API.md")
    assert _exists(ROOT / "README.md", "docs/cli.md") and _exists(ROOT / "docs" / "cli.md", "stores.md#fencing")
    assert REPO_PATH.findall("the figures of `shared/notes/peers.md` and bench/store.py") == [
        "shared/notes/peers.md", "bench/store.py"]
