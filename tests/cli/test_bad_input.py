"""Bad input: one line on stderr saying what is wrong and what to do, exit code 2, no traceback
(unless --debug)."""

from __future__ import annotations

import json
import shutil
import sqlite3
import uuid

import pytest

from ..waiting import wait_for
from .helpers import HERE, Cli, marked_pids


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory):
    """A real runic store holding one finished workflow, order-1."""
    work = tmp_path_factory.mktemp("bad-input")
    shutil.copy(HERE / "userflows.py", work / "flows.py")
    mark = uuid.uuid4().hex
    r = Cli(work, mark)("run", "flows:pipeline", "--input", json.dumps({"items": [{"qty": 1, "price": 2}]}),
                        "--id", "order-1", "--dir", "data")
    assert r.code == 0, r
    wait_for(lambda: not marked_pids(mark), timeout=15)
    return work / "data"


def assert_one_line_error(r, *fragments: str, code: int = 2) -> None:
    assert r.code == code, r
    lines = [line for line in r.err.splitlines() if line.strip()]
    assert len(lines) == 1, r
    assert lines[0].startswith("error: "), r
    assert "Traceback" not in r.err, r
    for fragment in fragments:
        assert fragment in lines[0], r


@pytest.mark.parametrize("command", ["show", "events", "graph", "resume", "stop", "delete"])
def test_unknown_id(cli, store_dir, command):
    r = cli(command, "order-2", "--dir", str(store_dir))
    assert_one_line_error(r, f"no workflow 'order-2' in {store_dir} (runner 'runic'); did you mean order-1?",
                          f"`runic ls --dir {store_dir}` lists the workflows there")


def test_module_that_does_not_import(cli):
    r = cli("run", "nosuchmodule:flow", "--input", "1")
    assert_one_line_error(r, "cannot import module 'nosuchmodule': no module named 'nosuchmodule'",
                          "run from the directory that holds it, or add that directory to PYTHONPATH")
    (cli.cwd / "broken.py").write_text("import runic\ndef flow(:\n")
    r = cli("run", "broken:flow", "--input", "1")
    assert_one_line_error(r, "importing module 'broken' failed: SyntaxError: ", "broken.py, line 2")
    (cli.cwd / "needsdep.py").write_text("import some_missing_dependency\n")
    r = cli("run", "needsdep:flow", "--input", "1")
    assert_one_line_error(r, "importing module 'needsdep' failed: No module named 'some_missing_dependency'")


@pytest.mark.parametrize("target, fragment", [
    ("flows:NOT_A_WORKFLOW", "flows:NOT_A_WORKFLOW is an int, not a runic.Workflow"),
    ("flows:returns_number", "flows:returns_number() returned an int, not a runic.Workflow"),
    ("flows:raises", "calling flows:raises() failed: RuntimeError: the factory is broken"),
    ("flows:nope", "module 'flows' has no attribute 'nope'"),
    ("flows:Path", "flows:Path is a type, not a runic.Workflow"),
    ("flows", "'flows' is not MODULE:ATTR"),
])
def test_attr_that_is_not_a_workflow(cli, target, fragment):
    r = cli("run", target, "--input", "1")
    assert_one_line_error(r, fragment)


@pytest.mark.parametrize("text, fragment", [
    ("{bad", "--input is not valid JSON (Expecting property name enclosed in double quotes at line 1 column 2: '{bad')"),
    ("", "--input is not valid JSON (Expecting value at line 1 column 1"),
    ("@missing.json", "cannot read the --input file missing.json: No such file or directory"),
])
def test_malformed_json(cli, text, fragment):
    r = cli("run", "flows:pipeline", "--input", text)
    assert_one_line_error(r, fragment)
    assert not (cli.cwd / "runic-data").exists(), "nothing is created for a command that cannot start"


def test_data_directory_that_is_not_a_runic_store(cli, workdir):
    missing = workdir / "nowhere"
    r = cli("ls", "--dir", str(missing))
    assert_one_line_error(r, f"no runic store at {missing}: the directory does not exist")
    assert not missing.exists()
    r = cli("show", "x", "--dir", str(workdir))
    assert_one_line_error(r, f"{workdir} is not a runic store (it has no runic.db)")
    r = cli("run", "flows:pipeline", "--input", "{}", "--dir", str(workdir))
    assert_one_line_error(r, f"{workdir} is not a runic store: it holds other files (flows.py) and no runic.db")
    r = cli("ls", "--dir", "flows.py")
    assert_one_line_error(r, f"{workdir / 'flows.py'} is a file, not a runic store directory")
    foreign = workdir / "foreign"
    foreign.mkdir()
    with sqlite3.connect(foreign / "runic.db") as conn:
        conn.execute("CREATE TABLE customers (id INTEGER)")
    r = cli("ls", "--dir", str(foreign))
    assert_one_line_error(r, "not a usable runic store", f"{foreign / 'runic.db'} is a SQLite database that runic did not create")
    junk = workdir / "junk"
    junk.mkdir()
    (junk / "runic.db").write_bytes(b"definitely not a database" * 10)
    for args in (("ls",), ("run", "flows:pipeline", "--input", "{}")):
        r = cli(*args, "--dir", str(junk))
        assert_one_line_error(r, "not a usable runic store", f"{junk / 'runic.db'} is not a SQLite database")


def test_store_from_an_incompatible_version(cli, store_dir, workdir):
    newer = workdir / "newer"
    shutil.copytree(store_dir, newer)
    with sqlite3.connect(newer / "runic.db") as conn:
        conn.execute("UPDATE runic_meta SET value = 99 WHERE key = 'schema_version'")
        conn.execute("PRAGMA user_version = 99")
    for args in (("ls",), ("show", "order-1"), ("resume", "order-1"), ("run", "flows:pipeline", "--input", "{}")):
        r = cli(*args, "--dir", str(newer))
        assert_one_line_error(r, "incompatible runic store", "uses schema version 99, newer than the version 2",
                              "Upgrade runic")


def test_unknown_runner_names_the_runners_there(cli, store_dir):
    r = cli("ls", "--dir", str(store_dir), "--runner", "billing")
    assert_one_line_error(r, f"the store {store_dir} has no runner 'billing'; it holds the workflows of 'runic': "
                             "pass --runner runic")


def test_debug_shows_the_traceback(cli, store_dir):
    r = cli("show", "order-2", "--dir", str(store_dir), "--debug")
    assert r.code == 2, r
    assert "Traceback (most recent call last)" in r.err and "UsageProblem" in r.err, r
    assert r.error_line.startswith("error: no workflow 'order-2'"), r
    env = cli("show", "order-2", "--dir", str(store_dir), env={"RUNIC_DEBUG": "1"})
    assert env.code == 2 and "Traceback" in env.err, env


def test_resume_needs_the_workflows_code(cli, store_dir):
    r = cli("run", "flows:lambdas", "--input", "1", "--id", "lam", "--dir", "data")
    assert r.code == 0, r
    assert "note: inc use lambdas or closures" in r.out, r
    r = cli("resume", "lam", "--dir", "data")
    assert_one_line_error(r, "workflow 'lam' cannot be resumed here: cannot restore the work function of component "
                             "'inc' (recorded as '<lambda>'): it is a lambda",
                          "Define its functions at module level")
    elsewhere = cli.cwd / "elsewhere"
    elsewhere.mkdir()
    moved = type(cli)(elsewhere, cli.mark)  # same user, another working directory: flows.py is not there
    r = moved("resume", "order-1", "--dir", str(store_dir))
    assert_one_line_error(r, "workflow 'order-1' cannot be resumed here: cannot restore the work function of "
                             "component 'parse' (recorded as 'flows:parse'): import failed (ModuleNotFoundError: No "
                             "module named 'flows')")
