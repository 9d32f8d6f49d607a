"""A cluster of runic nodes in network namespaces, with PostgreSQL in a namespace of its own.

:class:`TestCluster` owns everything a cluster test makes: the namespaces (:mod:`.netns`), the
PostgreSQL server (the throwaway server of the store tests, started inside the database
namespace and listening on the bridge's address; the test process reads it through its Unix
socket), the store schema with an **audit trigger** that records, for every event row inserted,
the ownership epoch of the write that inserted it and the database's clock (so a test can check
the streams' epochs: who wrote what, and when), a journal file the steps append to, and the
node processes (:class:`Node`, one per namespace, driven over pipes). :meth:`TestCluster.close`
stops all of it and checks that no process is left in any namespace.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from ..store import pg
from . import netns

ROOT = Path(__file__).resolve().parents[2]
RUNNER = "cluster"


class NetnsServer(pg.Server):
    """The test PostgreSQL server, run inside the database namespace (as its own user)."""

    def __init__(self, root: Path, name: str, account: tuple[int, int] | None, ns: str) -> None:
        super().__init__(root, name, account)
        self.ns = ns

    def base_settings(self) -> dict[str, Any]:
        settings = super().base_settings()
        settings["listen_addresses"] = netns.DB_ADDR
        settings["max_connections"] = 300
        return settings

    def initdb(self) -> None:
        super().initdb()
        with open(self.data / "pg_hba.conf", "a") as f:
            f.write(f"\nhost all all {netns.SUBNET}.0/24 scram-sha-256\n")

    def start(self, timeout: float = 60.0) -> None:
        cmd = ["ip", "netns", "exec", self.ns]
        if self.account is not None:
            cmd += ["setpriv", f"--reuid={self.account[0]}", f"--regid={self.account[1]}", "--clear-groups"]
        cmd += [str(pg.BIN / "postgres"), "-D", str(self.data)]
        logf = open(self.log, "ab")
        try:
            self.proc = subprocess.Popen(cmd, cwd=self.dir, start_new_session=True, stdout=logf, stderr=logf,
                                         stdin=subprocess.DEVNULL)
        finally:
            logf.close()
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"PostgreSQL exited at start: {self.log_tail()}")
            done = subprocess.run([str(pg.BIN / "pg_isready"), "-h", str(self.dir), "-p", str(self.port), "-t", "1"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if done.returncode == 0:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL did not accept connections in {timeout} s: {self.log_tail()}")
            time.sleep(0.05)

    def node_dsn(self) -> str:
        """How the nodes connect: TCP to the bridge address, password authentication; a send
        unacknowledged for 3 s drops the connection (so a healed link is noticed soon)."""
        return (f"host={netns.DB_ADDR} port={self.port} user={pg.USER} password={pg.PASSWORD} dbname=postgres "
                "tcp_user_timeout=3000 keepalives_idle=2 keepalives_interval=1 keepalives_count=2")

    def local_dsn(self) -> str:
        """How the test process connects: the Unix socket (trust)."""
        return f"host={self.dir} port={self.port} user={pg.USER} dbname=postgres"


class Node:
    """A node process (``tests.cluster.node``) in its namespace, driven over its pipes."""

    def __init__(self, name: str, proc: subprocess.Popen[str], stderr_path: Path) -> None:
        self.name = name
        self.proc = proc
        self.stderr_path = stderr_path
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.info = self._next(120.0)

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def _next(self, timeout: float) -> dict[str, Any]:
        while True:
            try:
                line = self.lines.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(f"node {self.name} said nothing within {timeout} s; stderr: "
                                     f"{self.stderr_tail()}") from None
            if line is None:
                raise AssertionError(f"node {self.name} exited ({self.proc.poll()}); stderr: {self.stderr_tail()}")
            line = line.strip()
            if line.startswith("{"):
                return dict(json.loads(line))

    def stderr_tail(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")[-3000:]
        except OSError:
            return "(none)"

    def call(self, op: str, timeout: float = 120.0, **args: Any) -> Any:
        """Send a command; return its value, or raise ``NodeError`` with the node's error."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"op": op, **args}) + "\n")
        self.proc.stdin.flush()
        reply = self._next(timeout)
        if "error" in reply:
            raise NodeError(reply["error"][0], reply["error"][1], reply.get("traceback", ""))
        return reply.get("ok")

    def quit(self, timeout: float = 60.0) -> None:
        with contextlib.suppress(Exception):
            assert self.proc.stdin is not None
            self.proc.stdin.write(json.dumps({"op": "quit"}) + "\n")
            self.proc.stdin.flush()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout)


class NodeError(Exception):
    def __init__(self, type_name: str, message: str, tb: str) -> None:
        super().__init__(f"{type_name}: {message}")
        self.type_name = type_name
        self.message = message
        self.tb = tb


class TestCluster:
    """See the module docs. ``lease`` is every node's lease, in seconds."""

    __test__ = False

    def __init__(self, tmp_path: Path, lease: float) -> None:
        self.tmp = tmp_path
        self.lease = lease
        self.nodes: dict[str, Node] = {}
        self.retired: list[Node] = []  # earlier processes of restarted nodes
        self.net = netns.Net()
        self.pg = pg.Cluster()
        try:
            self.server = NetnsServer(self.pg.root, "db", self.pg.account, self.net.db)
            self.pg.servers.append(self.server)
            self.server.initdb()
            self.server.start()
            self.schema = f"c_{uuid.uuid4().hex[:8]}"
            self.journal = tmp_path / "journal.jsonl"
            self.journal.touch()
            os.chmod(tmp_path, 0o755)
            self._install_audit()
        except BaseException:
            self.close()
            raise

    # -- the store, as the test reads it

    def store(self) -> Any:
        from runic.store import PostgresStore

        return PostgresStore(RUNNER, dsn=self.server.local_dsn(), schema=self.schema)

    def sql(self, query: str, *args: Any) -> list[tuple[Any, ...]]:
        import psycopg

        with psycopg.connect(self.server.local_dsn(), autocommit=True) as conn:
            cur = conn.execute(query, args)  # type: ignore[arg-type]
            return list(cur.fetchall()) if cur.description else []

    def clock_ms(self) -> int:
        return int(self.sql("SELECT floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint")[0][0])

    def _install_audit(self) -> None:
        """The runner's tables (created by opening the store), and a trigger recording the
        epoch and time of every event row inserted."""
        with self.store():
            pass
        s = f'"{self.schema}"'
        events, counters = f'{s}."{RUNNER}.EventStream"', f'{s}."{RUNNER}.EventCounters"'
        self.sql(f"CREATE TABLE {s}.audit (workflow_id bytea, seq bigint, n int, epoch bigint, at bigint)")
        self.sql(f"""CREATE FUNCTION {s}.audit_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO {s}.audit SELECT NEW.workflow_id, NEW.seq, greatest(NEW.batch, 1), k.epoch,
        floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint
        FROM {counters} k WHERE k.workflow_id = NEW.workflow_id;
    RETURN NULL;
END $$""")
        self.sql(f"CREATE TRIGGER audit AFTER INSERT ON {events} FOR EACH ROW EXECUTE FUNCTION {s}.audit_event()")
        status = f'{s}."{RUNNER}.WorkflowStatus"'
        self.sql(f"CREATE TABLE {s}.owners (workflow_id bytea, epoch bigint, node text, at bigint)")
        self.sql(f"""CREATE FUNCTION {s}.audit_owner() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' OR NEW.epoch IS DISTINCT FROM OLD.epoch THEN
        INSERT INTO {s}.owners VALUES (NEW.workflow_id, NEW.epoch, NEW.node,
            floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint);
    END IF;
    RETURN NULL;
END $$""")
        self.sql(f"CREATE TRIGGER owners AFTER INSERT OR UPDATE OF epoch ON {status} FOR EACH ROW "
                 f"EXECUTE FUNCTION {s}.audit_owner()")

    def audit(self, wid: str) -> list[tuple[int, int, int]]:
        """``(seq, epoch, at ms)`` of every event of ``wid`` ever inserted, in seq order. A row
        holds the events of one append (``batch`` of them from its ``seq``): each of its events
        gets the row's epoch and time."""
        rows = self.sql(f'SELECT seq, n, epoch, at FROM "{self.schema}".audit WHERE workflow_id = %s ORDER BY seq, at',
                        b"s" + wid.encode())
        return [(int(first) + i, int(e), int(t)) for first, n, e, t in rows for i in range(int(n))]

    def ownerships(self, wid: str) -> list[tuple[int, str | None, int]]:
        """``(epoch, node, at ms)`` of every ownership of ``wid``, oldest first (the audit
        trigger on its status row: ``at`` is when the acquiring transaction ran)."""
        rows = self.sql(f'SELECT epoch, node, at FROM "{self.schema}".owners WHERE workflow_id = %s ORDER BY at, epoch',
                        b"s" + wid.encode())
        return [(int(e), n, int(t)) for e, n, t in rows]

    def journal_records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.journal.read_text().splitlines() if line.strip()]

    # -- nodes

    def start_node(self, name: str, *, manual: bool = False) -> Node:
        """Start node ``name`` (again: a new process, a new generation, in the same namespace)."""
        ns = self.net.add_node(name) if name not in self.net.nodes else self.net.namespace(name)
        err = self.tmp / f"node-{name}-{len(self.nodes)}.stderr"
        args = [name, self.server.node_dsn(), self.schema, str(self.lease), str(self.journal)]
        proc = subprocess.Popen(["ip", "netns", "exec", ns, "unshare", "--uts", "--", sys.executable, "-m",
                                 "tests.cluster.node", *args, "--own-hostname", *(["--manual"] if manual else [])],
                                cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=open(err, "w"),
                                text=True, start_new_session=True)
        node = Node(name, proc, err)
        old = self.nodes.get(name)
        if old is not None:
            self.retired.append(old)
        self.nodes[name] = node
        return node

    def kill(self, name: str) -> list[int]:
        """SIGKILL every process of node ``name`` (its whole namespace)."""
        pids = self.net.kill(name)
        self.nodes[name].proc.wait(30)
        return pids

    def close(self) -> None:
        for node in self.nodes.values():
            if node.proc.poll() is None:
                node.quit(timeout=30)
        left = {ns: netns.Net.pids(ns) for ns, _port, _addr in self.net.nodes.values()}
        self.pg.close()
        self.net.destroy()
        for node in [*self.nodes.values(), *self.retired]:
            with contextlib.suppress(Exception):
                node.proc.wait(10)
        stray = {ns: p for ns, p in left.items() if p}
        if stray:
            print(f"processes still in the namespaces after the nodes quit (killed): {stray}")
