"""Bad input: one line on stderr saying what is wrong and what to do, exit code 2, no traceback
(unless --debug)."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import uuid

import pytest

from runic.store.mnesia import SCHEMA_VERSION

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
        assert_one_line_error(r, "incompatible runic store", f"uses schema version 99, newer than the version {SCHEMA_VERSION}",
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


# ---------------------------------------------------------------- hostile or odd input


def test_negative_numbers_are_values_not_options(cli):
    r = cli("run", "flows:increment", "--input", "-5", "--id", "-neg", "--dir", "data")
    assert r.code == 0, r
    assert re.search(r"\binc\s+-4\b", r.out), r
    same = cli("run", "flows:increment", "--input=-2.5", "--id=-neg2", "--dir", "data")
    assert same.code == 0 and re.search(r"\binc\s+-1\.5\b", same.out), same
    shown = cli("show", "--dir", "data", "--", "-neg")  # an id that starts with "-" comes after --
    assert shown.code == 0 and re.search(r"workflow\s+-neg \(increment\)", shown.out), shown
    hint = cli("delete", "--dir", "data", "--", "-neg")
    assert hint.code == 2 and hint.error_line == "error: not deleting '-neg' without confirmation; pass --yes", hint


def _files(directory):
    return sorted((p.name, p.stat().st_size) for p in directory.iterdir())


@pytest.mark.parametrize("command", [("ls",), ("show", "x"), ("events", "x"), ("graph", "x"), ("resume", "x"),
                                     ("stop", "x"), ("delete", "x", "--yes")])
def test_read_commands_never_create_a_store(cli, workdir, command):
    empty = workdir / "empty"
    empty.mkdir()
    r = cli(*command, "--dir", str(empty))
    assert_one_line_error(r, f"{empty} is not a runic store (it has no runic.db)")
    assert _files(empty) == []
    zero = workdir / "zero"
    zero.mkdir()
    (zero / "runic.db").touch()
    r = cli(*command, "--dir", str(zero))
    assert_one_line_error(r, f"{zero / 'runic.db'} is an empty file, not a runic store (nothing was written to it)")
    assert _files(zero) == [("runic.db", 0)], "the empty file was written to, or files were added beside it"


HOSTILE_ID = "ord\x1b]0;owned\x07er-\x1b[31m1\u202e\x9b2J"
SHOWN_ID = "ord\\x1b]0;owned\\x07er-\\x1b[31m1\\u202e\\x9b2J"


def _assert_no_control_characters(r):
    for stream in (r.out, r.err):
        bad = [ch for ch in stream if not (ch.isprintable() or ch in "\n ")]
        assert not bad, (bad, r)


def test_user_text_is_printed_escaped(cli):
    r = cli("run", "flows:hostile_names", "--input", "1", "--id", HOSTILE_ID, "--dir", "data")
    assert r.code == 0, r
    _assert_no_control_characters(r)
    assert f"as workflow {SHOWN_ID} in" in r.out and "inc\\x1b[2J\\u202e" in r.out, r
    listing = cli("ls", "--dir", "data")
    assert listing.code == 0, listing
    _assert_no_control_characters(listing)
    assert SHOWN_ID in listing.out and "shop\\x1b]0;owned\\x07" in listing.out, listing
    show = cli("show", HOSTILE_ID, "--dir", "data")
    assert show.code == 0, show
    _assert_no_control_characters(show)
    assert re.search(rf"workflow\s+{re.escape(SHOWN_ID)} \(shop\\x1b]0;owned\\x07\)", show.out), show
    events = cli("events", HOSTILE_ID, "--dir", "data", "--limit", "0")
    assert events.code == 0 and "inc\\x1b[2J\\u202e" in events.out, events
    _assert_no_control_characters(events)
    records = cli("events", HOSTILE_ID, "--dir", "data", "--limit", "0", "--json")
    _assert_no_control_characters(records)
    names = [json.loads(line)["fields"].get("name") for line in records.out.splitlines()]
    assert "inc\x1b[2J\u202e" in names, records.out  # the JSON still decodes to the real name
    missing = cli("show", HOSTILE_ID + "x", "--dir", "data")
    assert missing.code == 2, missing
    _assert_no_control_characters(missing)
    assert f"no workflow '{SHOWN_ID}x'" in missing.err or "no workflow 'ord\\x1b]0;owned" in missing.err, missing


@pytest.mark.parametrize("text, fragment", [
    ("[" * 30000 + "]" * 30000, "--input nests lists or objects too deeply to be read"),
    ("[" * 300 + "]" * 300, "--input cannot be stored (300 levels of lists/objects)"),
    ("@binary.dat", "--input file binary.dat is not JSON text: byte 0 is not UTF-8 (is it a binary file?)"),
    ("@/dev/zero", "--input file /dev/zero is larger than 64 MiB"),
    ("@.", "cannot read the --input file .: Is a directory"),
])
def test_hostile_inputs(cli, text, fragment):
    (cli.cwd / "binary.dat").write_bytes(bytes([0xFF, 0xFE, 0x00, 0x81]) * 64)
    r = cli("run", "flows:pipeline", "--input", text)
    assert_one_line_error(r, fragment)
    assert not (cli.cwd / "runic-data").exists(), "nothing is created for a command that cannot start"


def test_huge_input_on_stdin_is_bounded(cli):
    r = cli("run", "flows:pipeline", "--input", "-", input="1" * (64 * 1024 * 1024 + 10))
    assert_one_line_error(r, "--input - (stdin) is larger than 64 MiB")


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "-1", "0", "soon"])
@pytest.mark.parametrize("command", [("run", "flows:pipeline", "--input", "{}"), ("resume", "order-1")])
def test_timeout_must_be_a_finite_positive_number(cli, value, command):
    r = cli(*command, "--timeout", value)
    assert_one_line_error(r, "Invalid value for '--timeout'", repr(value))
    assert not (cli.cwd / "runic-data").exists()


def test_unknown_event_type_lists_the_valid_ones(cli, store_dir):
    r = cli("events", "order-1", "--dir", str(store_dir), "--type", "RunnableCompleted", "--type", "Bogus")
    assert_one_line_error(r, "unknown event type 'Bogus' for --type; the types are ", "RunnableCompleted",
                          "FactProduced", "WorkflowDefined")
    ok = cli("events", "order-1", "--dir", str(store_dir), "--type", "runnablecompleted")
    assert ok.code == 0 and "RunnableCompleted" in ok.out, ok


def test_graph_output_that_cannot_be_written(cli, store_dir):
    r = cli("graph", "order-1", "--dir", str(store_dir), "--output", "no/such/dir/g.mmd")
    assert_one_line_error(r, "cannot write the graph to no/such/dir/g.mmd: No such file or directory")
    (cli.cwd / "adir").mkdir()
    r = cli("graph", "order-1", "--dir", str(store_dir), "--output", "adir")
    assert_one_line_error(r, "'adir' is a directory")


@pytest.mark.parametrize("body, fragment", [
    ("import sys\nsys.exit(7)\n", "importing module 'quits' failed: it called sys.exit(7)"),
    ("raise SystemExit('bye')\n", "importing module 'quits' failed: it called sys.exit('bye')"),
    ("raise KeyboardInterrupt\n", "importing module 'quits' failed: KeyboardInterrupt"),
    ("import sys\ndef flow():\n    sys.exit(3)\n", "calling quits:flow() failed: it called sys.exit(3)"),
])
def test_workflow_module_that_exits(cli, body, fragment):
    (cli.cwd / "quits.py").write_text(body)
    r = cli("run", "quits:flow", "--input", "1")
    assert_one_line_error(r, fragment)
    assert not (cli.cwd / "runic-data").exists()
