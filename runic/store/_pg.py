"""The PostgreSQL connections of :class:`~runic.store.PostgresStore` (private): pools, failover
retries, the timeline guard, and errors that name the server.

One :class:`_Cluster` per process and connection target (the hosts, the options, the pool
size) is shared by every ``PostgresStore`` handle of the process on that target;
:func:`acquire_cluster` / :func:`release_cluster` count its users. It holds a
``psycopg_pool.ConnectionPool`` to the primary (libpq's multi-host connection string with
``target_session_attrs=read-write``: after a failover, new connections go to whichever listed
host accepts writes) and, for ``reads="standby"``, a second pool that prefers a hot standby.

Which thread runs what: :meth:`_Cluster.run` runs in the caller's thread and borrows one
connection for the call; the pools' own worker threads open connections in the background and
run :meth:`_Cluster._configure` on each new one. A connection is used by one thread at a time.

Decisions, each measured or forced by PostgreSQL's behaviour:

* **Connections are autocommit.** Each store primitive is one statement (most often one call
  of a server-side function): one round trip, no ``BEGIN``/``COMMIT`` of its own. Primitives
  that need several statements open a transaction explicitly.
* **Failover.** A call that loses its connection (the server died, was shut down, or turned
  read-only) is retried on a fresh connection until ``failover_timeout`` has passed, then
  raises :class:`~runic.store.StoreUnavailableError`. A retry tells the primitive that the lost
  attempt may have committed (``attempt > 0``), which is how ``append`` stays exactly-once
  across an ambiguous commit.
* **The timeline guard.** Every new primary connection reads the server's timeline (the first
  eight hex digits of its current WAL file name). A process that has written to timeline N
  refuses any server on a timeline below N (:class:`~runic.store.StoreTimelineError`): that is
  an old primary restarted after its standby was promoted, and what it accepts the new primary
  never sees. The highest timeline is kept per target for the life of the process.
* **Fork.** A cluster belongs to the process that opened it; a forked child opens its own, and
  keeps the inherited one referenced for ever without using or closing it (closing would tell
  the server to end the parent's sessions, which share those sockets).
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from typing import Any, Callable, TypeVar

import psycopg
import psycopg_pool
from psycopg import errors as pgerrors
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from .errors import (
    StoreAccessError,
    StoreArgumentError,
    StoreError,
    StoreTimelineError,
    StoreUnavailableError,
)

log = logging.getLogger("runic.store")

T = TypeVar("T")

#: SQLSTATE classes and codes after which a call is retried on a new connection
_RETRY_STATES = {
    "57P01",  # admin_shutdown: the server is going down
    "57P02",  # crash_shutdown
    "57P03",  # cannot_connect_now: starting up, or shutting down
    "25006",  # read_only_sql_transaction: the server became (or is) a standby
    "40001",  # serialization_failure
    "40P01",  # deadlock_detected
    "08000", "08003", "08006", "08001", "08004",  # connection exceptions
}


class _Connection(psycopg.Connection[Any]):
    """A connection that remembers which server it reached and on which timeline."""

    server: str = "?"
    timeline: int = 0


def parse_nodes(nodes: list[str] | tuple[str, ...]) -> tuple[str, str]:
    """``(hosts, ports)`` for libpq from ``["db1:5432", "[::1]:5433", "db2"]``."""
    hosts: list[str] = []
    ports: list[str] = []
    for node in nodes:
        if not isinstance(node, str) or not node.strip():
            raise StoreArgumentError(f"a database node must be a 'host:port' string, got {node!r}")
        text = node.strip()
        host, port = text, "5432"
        if text.startswith("["):  # [ipv6]:port
            end = text.find("]")
            if end < 0:
                raise StoreArgumentError(f"bad database node {node!r}: write an IPv6 host as '[::1]:5432'")
            host, rest = text[1:end], text[end + 1:]
            if rest:
                port = rest.lstrip(":")
        elif text.count(":") == 1:
            host, port = text.split(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise StoreArgumentError(f"bad database node {node!r}: write it as 'host:port', e.g. 'db1:5432'")
        hosts.append(host)
        ports.append(port)
    if not hosts:
        raise StoreArgumentError("nodes must name at least one database host ('host:port')")
    return ",".join(hosts), ",".join(ports)


def describe(conninfo: str) -> str:
    """``host:port[,host:port]/dbname`` of a connection string (never its password)."""
    try:
        params = conninfo_to_dict(conninfo)
    except psycopg.ProgrammingError:
        return "<unparsable connection string>"
    hosts = str(params.get("host") or params.get("hostaddr") or os.environ.get("PGHOST") or "localhost").split(",")
    ports = str(params.get("port") or os.environ.get("PGPORT") or "5432").split(",")
    if len(ports) == 1:
        ports = ports * len(hosts)
    servers = ",".join(f"{h}:{p}" for h, p in zip(hosts, ports))
    db = params.get("dbname") or os.environ.get("PGDATABASE") or default_user(conninfo)
    return f"{servers}/{db}"


def default_user(conninfo: str) -> str:
    """The user libpq logs in as: the connection string's, ``$PGUSER``, or this OS user."""
    try:
        user = conninfo_to_dict(conninfo).get("user")
    except psycopg.ProgrammingError:
        user = None
    if user:
        return str(user)
    if os.environ.get("PGUSER"):
        return os.environ["PGUSER"]
    import getpass

    return getpass.getuser()


def build_conninfo(dsn: str, nodes: list[str] | tuple[str, ...] | None, *, session_attrs: str,
                   synchronous_commit: str, connect_timeout: float) -> str:
    """The libpq connection string: ``dsn`` with ``nodes`` as its hosts, the session attributes,
    the commit mode and a bounded connect timeout."""
    try:
        params = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError as exc:
        raise StoreArgumentError(
            f"the PostgreSQL connection string is not valid ({exc}); write it as "
            "'postgresql://user:password@host:5432/dbname' or 'host=... dbname=...'"
        ) from None
    if nodes:
        params.pop("hostaddr", None)
        params["host"], params["port"] = parse_nodes(list(nodes))
    options = str(params.get("options") or "")
    params["options"] = f"{options} -c synchronous_commit={synchronous_commit}".strip()
    params["target_session_attrs"] = session_attrs
    params.setdefault("application_name", "runic")
    params["connect_timeout"] = str(max(1, int(round(connect_timeout))))
    return make_conninfo("", **params)


def is_connection_loss(exc: BaseException) -> bool:
    """True if ``exc`` means the call's connection (or its server's role) was lost, so that the
    call may be retried on a new connection."""
    if isinstance(exc, (psycopg_pool.PoolTimeout, psycopg.OperationalError, psycopg.InterfaceError)):
        state = getattr(exc, "sqlstate", None)
        return state is None or state in _RETRY_STATES or state[:2] == "08"
    state = getattr(exc, "sqlstate", None)
    return state in _RETRY_STATES if state else False


def connect_error(exc: BaseException, where: str, user: str | None, timeout: float) -> StoreError:
    """A store error for a failure to connect, naming the server and saying what to do."""
    msg = " ".join(str(exc).split()) or type(exc).__name__
    low = msg.lower()
    if "password authentication failed" in low or "no password supplied" in low \
            or "authentication failed" in low or "role" in low and "does not exist" in low:
        return StoreAccessError(
            f"cannot log in to PostgreSQL at {where} as user {user!r}: {msg}. Check the user and "
            "password in dsn= (or $RUNIC_DATABASE_URL, PGPASSWORD, ~/.pgpass), and that "
            "pg_hba.conf lets this user connect from here"
        )
    if "database" in low and "does not exist" in low:
        db = where.rsplit("/", 1)[-1]
        return StoreArgumentError(
            f"the PostgreSQL database {db!r} does not exist on {where.rsplit('/', 1)[0]} ({msg}). "
            f"Create it (createdb {db}, or CREATE DATABASE \"{db}\"), or name an existing one in "
            "dsn= (or $RUNIC_DATABASE_URL)"
        )
    if "permission denied" in low:
        return StoreAccessError(f"PostgreSQL at {where} refused the connection: {msg}. Ask its administrator for access")
    return StoreUnavailableError(
        f"cannot reach a PostgreSQL server that accepts writes at {where} within "
        f"{timeout:g} s: {msg}. Check that the server runs and listens there (nodes=, dsn= or "
        "$RUNIC_DATABASE_URL); after a failover, a standby must be promoted first (by the HA "
        "manager or `pg_ctl promote`: runic never promotes one)",
        where,
    )


_timelines_lock = threading.Lock()
#: the highest timeline written to, per target, for the life of the process
_timelines: dict[str, int] = {}


class _Cluster:
    """The pools of one target (see the module documentation)."""

    def __init__(self, conninfo: str, standby_conninfo: str | None, pool_size: int,
                 connect_timeout: float, failover_timeout: float, user: str | None) -> None:
        self.conninfo = conninfo
        self.standby_conninfo = standby_conninfo
        self.where = describe(conninfo)
        self.user = user
        self.connect_timeout = connect_timeout
        self.failover_timeout = failover_timeout
        self.pid = os.getpid()
        self.refs = 0
        self.lock = threading.Lock()
        #: ``(schema, runner)`` whose tables and functions this process found or created
        self.ensured: set[tuple[str, str]] = set()
        self._guard_key = conninfo
        first = self.connect()  # fail fast, with the server's own words, in the caller
        first.close()
        self.pool: psycopg_pool.ConnectionPool[Any] = psycopg_pool.ConnectionPool(
            conninfo, connection_class=_Connection, kwargs={"autocommit": True},
            min_size=1, max_size=pool_size, open=False, configure=self._configure,
            timeout=connect_timeout, name=f"runic-{self.where}", reconnect_timeout=max(failover_timeout, 60.0),
        )
        self.pool.open(wait=False)
        self.standby: psycopg_pool.ConnectionPool[Any] | None = None
        if standby_conninfo is not None:
            self.standby = psycopg_pool.ConnectionPool(
                standby_conninfo, connection_class=_Connection, kwargs={"autocommit": True},
                min_size=1, max_size=pool_size, open=False, timeout=connect_timeout,
                name=f"runic-standby-{self.where}", reconnect_timeout=max(failover_timeout, 60.0),
            )
            self.standby.open(wait=False)

    # -- connections

    def connect(self) -> _Connection:
        """A new connection to the primary, outside the pool (used to open the store and to
        report why the pool cannot connect)."""
        try:
            conn = _Connection.connect(self.conninfo, autocommit=True)
        except psycopg.Error as exc:
            raise connect_error(exc, self.where, self.user, self.connect_timeout) from None
        try:
            self._configure(conn)
            self._guard(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def _configure(self, conn: _Connection) -> None:
        """On every new primary connection (a pool thread): which server, which timeline."""
        conn.server = f"{conn.info.host}:{conn.info.port}"
        row = conn.execute(
            "SELECT CASE WHEN pg_is_in_recovery() THEN '' ELSE pg_walfile_name(pg_current_wal_lsn()) END"
        ).fetchone()
        name = row[0] if row else ""
        conn.timeline = int(name[:8], 16) if name else 0

    def _guard(self, conn: _Connection) -> None:
        """Refuse a server on an older timeline than one this process wrote to (module docs)."""
        timeline = conn.timeline
        with _timelines_lock:
            seen = _timelines.get(self._guard_key, 0)
            if timeline >= seen:
                if timeline > seen:
                    if seen:
                        log.warning("PostgreSQL %s: now on timeline %d (was %d): a failover happened",
                                    conn.server, timeline, seen)
                    _timelines[self._guard_key] = timeline
                return
        conn.close()  # the pool drops it; the next connection may reach the new primary
        raise StoreTimelineError(
            f"refusing to write to the PostgreSQL server {conn.server}: it runs on timeline "
            f"{timeline}, older than timeline {seen} this process already wrote to, so it is "
            "an old primary that came back after a standby was promoted, and whatever it "
            "accepts the new primary never sees. Nothing was written to it. Stop it (or let "
            "the HA manager fence it and rebuild it as a standby with pg_rewind), or remove it "
            "from nodes=",
            conn.server, timeline, seen,
        )

    def run(self, fn: Callable[[Any, int], T], what: str, *, standby: bool = False) -> T:
        """``fn(conn, attempt)`` on a pooled connection, retried on a new connection while the
        failover lasts (see the module documentation). ``attempt`` > 0 tells ``fn`` that an
        earlier attempt was lost, and may or may not have committed."""
        pool = self.standby if standby and self.standby is not None else self.pool
        deadline: float | None = None
        attempt = 0
        while True:
            try:
                with pool.connection() as conn:
                    if pool is self.pool:
                        self._guard(conn)
                    return fn(conn, attempt)
            except StoreError:
                raise
            except Exception as exc:
                if not is_connection_loss(exc):
                    raise
                now = time.monotonic()
                if deadline is None:
                    deadline = now + self.failover_timeout
                    log.warning("%s on PostgreSQL %s: connection lost (%s); retrying for up to %g s",
                                what, self.where, " ".join(str(exc).split())[:200], self.failover_timeout)
                    try:
                        pool.check()  # drop the other idle connections to the lost server
                    except Exception as check_exc:  # noqa: BLE001 - only a cleanup
                        log.debug("pool check: %s", check_exc)
                elif now >= deadline:
                    raise self._unavailable(what, exc) from None
                attempt += 1
                time.sleep(min(0.5, 0.02 * (2 ** min(attempt, 5))) * (0.5 + random.random()))

    def _unavailable(self, what: str, exc: BaseException) -> StoreError:
        """The error once a failover outlasted its timeout: the server's own words if a direct
        connection attempt gets any."""
        try:
            self.connect().close()
        except StoreError as err:
            return type(err)(f"{what}: {err}") if isinstance(err, StoreUnavailableError) else err
        return StoreUnavailableError(
            f"{what} on PostgreSQL {self.where} kept failing for {self.failover_timeout:g} s "
            f"({' '.join(str(exc).split())[:300]}). Check the server; nothing was acknowledged "
            "that is not stored",
            self.where,
        )

    def close(self) -> None:
        for pool in (self.pool, self.standby):
            if pool is not None:
                try:
                    pool.close(timeout=5.0)
                except Exception as exc:  # noqa: BLE001 - closing is best effort
                    log.debug("closing the pool of %s: %s", self.where, exc)


_registry_lock = threading.Lock()
_registry: dict[tuple[Any, ...], _Cluster] = {}
#: clusters inherited across fork: never used nor closed in the child (module documentation)
_inherited: list[_Cluster] = []


def acquire_cluster(conninfo: str, standby_conninfo: str | None, pool_size: int,
                    connect_timeout: float, failover_timeout: float, user: str | None) -> _Cluster:
    key = (os.getpid(), conninfo, standby_conninfo, pool_size, failover_timeout)
    with _registry_lock:
        for k in [k for k in _registry if k[0] != key[0]]:
            _inherited.append(_registry.pop(k))
        cluster = _registry.get(key)
        if cluster is None:
            cluster = _Cluster(conninfo, standby_conninfo, pool_size, connect_timeout, failover_timeout, user)
            _registry[key] = cluster
        cluster.refs += 1
        return cluster


def release_cluster(cluster: _Cluster) -> None:
    if cluster.pid != os.getpid():
        return
    with _registry_lock:
        cluster.refs -= 1
        if cluster.refs > 0:
            return
        for k, v in list(_registry.items()):
            if v is cluster:
                del _registry[k]
    cluster.close()


def sqlstate(exc: BaseException) -> str | None:
    state = getattr(exc, "sqlstate", None)
    return state if isinstance(state, str) else None


__all__ = ["acquire_cluster", "release_cluster", "build_conninfo", "describe", "parse_nodes",
           "is_connection_loss", "connect_error", "sqlstate", "pgerrors"]
