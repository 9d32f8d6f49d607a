"""`runic ui` as a user runs it: it serves the store, resumes a workflow in a Runner it starts
for that, and Ctrl-C or SIGTERM stops it all (the fixture checks that no process is left)."""

from __future__ import annotations

import http.client
import json
import re
import signal
import subprocess

from runic.store import MnesiaStore

from ..waiting import wait_for
from .helpers import Cli
from .test_control import FAST, STEPS, completions, journal, start_slow_run, status


def started_ui(cli, *args: str, env: dict | None = None, data: str = "data") -> tuple[subprocess.Popen, int]:
    proc = cli.start("ui", "--port", "0", "--dir", data, *args, env=env, new_session=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    m = re.search(r"at http://127\.0\.0\.1:(\d+)/", line)
    assert m, (line, proc.poll())
    return proc, int(m.group(1))


def request(port: int, method: str, path: str, headers: dict | None = None) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request(method, path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()


def test_ui_resumes_a_stopped_workflow_and_ctrl_c_stops_everything(cli):
    run = start_slow_run(cli, "job")
    assert cli("stop", "job", "--dir", "data").code == 0
    run.communicate(timeout=60)
    assert status(cli, "job") == "stopped"
    ran_before = len(journal(cli))

    ui, port = started_ui(cli, env=FAST)
    try:
        code, listing = request(port, "GET", "/api/workflows")
        assert code == 200 and [(r["id"], r["status"]) for r in listing["rows"]] == [("job", "stopped")], listing
        code, answer = request(port, "POST", "/api/workflows/job/resume", {"X-Runic-UI": "1"})
        assert code == 200 and answer["message"].startswith("resumed workflow job (was stopped) on "), answer
        wait_for(lambda: status(cli, "job") == "idle", timeout=120)
        code, detail = request(port, "GET", "/api/workflows/job")
        assert code == 200 and detail["status"] == "idle" and detail["failures"] == [], detail
    finally:
        ui.send_signal(signal.SIGINT)
        out, err = ui.communicate(timeout=60)
    assert ui.returncode == 0, (out, err)
    assert "dashboard stopped; it resumed job: what was still running stays 'running'" in out, (out, err)
    assert "Traceback" not in err, (out, err)
    assert completions(cli, "job") == {f"s{i}": 1 for i in range(STEPS)}  # each step completed once
    assert len(journal(cli)) <= STEPS + 1 and ran_before < STEPS  # at most the in-flight step ran twice


def test_ui_read_only_port_in_use_and_sigterm(cli):
    assert cli("run", "flows:failing", "--input", '{"items": [{"qty": 1, "price": 2}]}', "--id", "bad",
               "--dir", "data").code == 1
    ui, port = started_ui(cli, "--read-only")
    try:
        code, detail = request(port, "GET", "/api/workflows/bad")
        assert code == 200 and detail["failures"][0]["traceback"].startswith("Traceback"), detail
        code, answer = request(port, "POST", "/api/workflows/bad/cancel", {"X-Runic-UI": "1"})
        assert code == 403 and "read-only" in answer["error"], answer
        taken = cli("ui", "--port", str(port), "--dir", "data")
        assert taken.code == 2, taken
        assert taken.error_line == (f"error: port {port} on 127.0.0.1 is in use (another dashboard?); pass --port "
                                    "with another number, or --port 0 for any free port"), taken
        missing = cli("ui", "--port", "0", "--dir", "nowhere")
        assert missing.code == 2 and "no runic store at" in missing.error_line, missing
    finally:
        ui.send_signal(signal.SIGTERM)
        out, err = ui.communicate(timeout=60)
    assert ui.returncode == 0 and out.strip().endswith("dashboard stopped"), (out, err)
    with MnesiaStore("runic", dir=cli.cwd / "data") as store:
        assert store.status("bad") == "failed"


def test_ui_resume_says_when_the_workflows_code_is_not_importable_here(cli, tmp_path):
    run = start_slow_run(cli, "job")
    assert cli("stop", "job", "--dir", "data").code == 0
    run.communicate(timeout=60)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    ui, port = started_ui(Cli(elsewhere, cli.mark), data=str(cli.cwd / "data"))  # no flows.py here
    try:
        code, answer = request(port, "POST", "/api/workflows/job/resume", {"X-Runic-UI": "1"})
        assert code == 422, answer
        assert answer["error"].startswith("cannot restore the work function of component 's0' (recorded as "
                                          "'flows:tick'): import failed"), answer
        assert answer["error"].endswith("start `runic ui` where the workflow's module is importable (from its "
                                        "directory, or with it on PYTHONPATH)"), answer
    finally:
        ui.send_signal(signal.SIGINT)
        out, err = ui.communicate(timeout=60)
    assert ui.returncode == 0 and out.strip().endswith("dashboard stopped"), (out, err)
