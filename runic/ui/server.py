"""The dashboard's web server: pages, a JSON API, live updates, and the three actions.

A :class:`Dashboard` serves one store (a :class:`~runic.ui.sources.Source`) on ``127.0.0.1``
with the standard library's :class:`~http.server.ThreadingHTTPServer`: one thread per request,
one long-lived thread per open live view. It opens one store handle for its whole life, shared
by the request threads, and only reads through it, except for the actions
(:mod:`runic.ui.actions`).

Routes (``ID`` is the workflow id, percent-encoded as one path segment):

* ``GET /`` — the workflows page; ``GET /workflows/ID`` — one workflow's page;
  ``GET /static/NAME`` — the dashboard's script, style and vendored files;
* ``GET /api/workflows?status=S&q=TEXT`` — the workflows (``status`` repeatable), JSON;
* ``GET /api/workflows/ID`` — one workflow: graph, failures, pending work, productions;
* ``GET /api/workflows/ID/events?after=N|before=N&limit=N`` — its events, one line each;
* ``GET /api/workflows/ID/live`` — server-sent events: ``state`` (status, events, owner)
  whenever it changes;
* ``POST /api/workflows/ID/stop`` (``cancel``, ``resume``) — the actions; JSON ``{"message":
  ...}``.

Errors are JSON ``{"error": message}`` with a 4xx/5xx status; the message says what to do.

Security, for a server without authentication on a machine's loopback interface (see
``docs/dashboard.md`` for what that means on a shared machine):

* it binds ``127.0.0.1`` only (:class:`Dashboard` takes no host);
* requests whose ``Host`` header is not ``127.0.0.1:PORT`` or ``localhost:PORT`` are refused
  (421), so a web page whose name an attacker points at 127.0.0.1 (DNS rebinding) cannot read it;
* actions are ``POST`` requests that must carry the header ``X-Runic-UI: 1`` and, if the
  browser sends them, an ``Origin`` of this server and ``Sec-Fetch-Site: same-origin``: another
  web site cannot make a visitor's browser send them (a cross-site request with a custom header
  needs a CORS preflight, which this server never grants);
* every response carries a Content-Security-Policy that allows scripts, styles and requests
  from this server only, and no framing; the pages insert every value as text, never as HTML,
  and the server escapes the id it writes into a page;
* JSON only (no pickle); static files are served from a fixed list (no path from the request
  reaches the file system).

Thread territory: :meth:`Dashboard.start` runs the server loop on a thread of its own;
:meth:`Dashboard.close` (any thread) stops it, ends the live views, joins every request thread,
closes the store handle, and shuts down a Runner the dashboard started.
"""

from __future__ import annotations

import errno
import html
import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Hashable
from urllib.parse import parse_qs, unquote, urlsplit

from .. import __version__
from ..errors import RunicError
from ..store import STATUSES, StoreError
from .actions import ActionError, Actions, RunnerProvider
from .assets import page, static_file
from .sources import Source
from .views import DetailCache, find_id, live_state, timeline, workflow_list

__all__ = ["Dashboard", "HOST", "DEFAULT_PORT", "PortInUseError", "SECURITY_HEADERS"]

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
"""The only address the dashboard listens on."""
DEFAULT_PORT = 8760
"""``runic ui``'s port unless ``--port`` says otherwise (``--port 0``: any free port)."""

SECURITY_HEADERS = {
    "Content-Security-Policy": ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                                "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Resource-Policy": "same-origin",
}

ACTIONS = ("stop", "cancel", "resume")
LIVE_POLL_SECONDS = 0.5
LIVE_PING_SECONDS = 15.0


class PortInUseError(RunicError):
    """The port the dashboard was asked to listen on is taken."""


class _Problem(Exception):
    """A request the dashboard answers with an error (``status``, ``message``)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class _Server(ThreadingHTTPServer):
    daemon_threads = False  # server_close() joins request threads (each ends within its timeout)
    block_on_close = True
    dashboard: "Dashboard"


class Dashboard:
    """The dashboard of one store, on ``127.0.0.1:port`` (``port=0``: a free port).

    ``runners`` gives the Runner that ``resume`` uses (``None``: resume is refused);
    ``read_only`` refuses every action and shows no buttons. Use it as a context manager, or
    call :meth:`start` and :meth:`close`.
    """

    def __init__(self, source: Source, *, port: int = DEFAULT_PORT, runners: RunnerProvider | None = None,
                 read_only: bool = False, live_poll: float = LIVE_POLL_SECONDS) -> None:
        self.source = source
        self.requested_port = port
        self.runners = None if read_only else runners
        self.read_only = read_only
        self.live_poll = live_poll
        self.stopping = threading.Event()
        self.cache = DetailCache()
        self.store: Any = None
        self.actions: Actions | None = None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # ------------------------------------------------------------------ life cycle
    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT/``."""
        return f"http://{HOST}:{self.port}/"

    def start(self) -> "Dashboard":
        """Open the store, bind the port and serve on a thread; returns ``self``."""
        self.store = self.source.open()
        try:
            try:
                server = _Server((HOST, self.requested_port), _Handler)
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    raise PortInUseError(
                        f"port {self.requested_port} on {HOST} is in use (another dashboard?); pass --port with "
                        "another number, or --port 0 for any free port") from None
                raise
        except BaseException:
            self._close_store()
            raise
        server.dashboard = self
        self._server = server
        self.port = int(server.server_address[1])
        self.actions = None if self.read_only else Actions(self.store, self.runners)
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name=f"runic-ui:{self.port}", daemon=True)
        self._thread.start()
        log.info("dashboard of %s at %s", self.source.where, self.url)
        return self

    def close(self) -> None:
        """Stop serving (live views end within a poll), join the request threads, close the
        store handle, shut down a Runner the dashboard started. Idempotent."""
        self.stopping.set()
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        if self.runners is not None:
            self.runners.close()
        self._close_store()

    def _close_store(self) -> None:
        store, self.store = self.store, None
        if store is not None and getattr(self.source, "store", None) is not store:
            store.close()

    def __enter__(self) -> "Dashboard":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ answers
    def workflow_id(self, text: str) -> Hashable:
        wid = find_id(self.store, text)
        if wid is None:
            raise _Problem(404, f"no workflow {text!r} in {self.source.where}; the workflows page lists them")
        return wid

    def render(self, name: str, **values: str) -> bytes:
        """The page template ``name`` with ``{{key}}`` replaced by the escaped ``values``."""
        text = page(name)
        values = {"where": self.source.where, "version": __version__, "read_only": "1" if self.read_only else "0",
                  **values}
        for key, value in values.items():
            text = text.replace("{{" + key + "}}", html.escape(value, quote=True))
        return text.encode("utf-8")


def _one(query: dict[str, list[str]], key: str, default: int | None = None) -> int | None:
    values = query.get(key)
    if not values:
        return default
    try:
        return int(values[-1])
    except ValueError:
        raise _Problem(400, f"{key} must be a whole number, got {values[-1]!r}") from None


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.0"
    server_version = "runic-ui"
    timeout = 30  # seconds a silent client may hold a request thread

    # ------------------------------------------------------------------ plumbing
    @property
    def app(self) -> Dashboard:
        return self.server.dashboard

    def version_string(self) -> str:
        return self.server_version  # no Python version in the Server header

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        log.debug("%s %s", self.address_string(), format % args)

    def _send(self, status: int, body: bytes, ctype: str, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for key, value in {**SECURITY_HEADERS, **(extra or {})}.items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, data: Any, status: int = 200) -> None:
        body = json.dumps(data, ensure_ascii=False, allow_nan=False, default=str).encode("utf-8")
        self._send(status, body, "application/json; charset=utf-8")

    def _error(self, status: int, message: str) -> None:
        self._json({"error": message}, status)

    def _check_host(self) -> None:
        host = (self.headers.get("Host") or "").strip().lower()
        port = self.app.port
        if host not in (f"127.0.0.1:{port}", f"localhost:{port}"):
            raise _Problem(421, f"this dashboard answers only as http://127.0.0.1:{port}/ (Host was {host!r})")

    def _check_action_request(self) -> None:
        if self.headers.get("X-Runic-UI") != "1":
            raise _Problem(403, "actions need the header X-Runic-UI: 1 (use the dashboard's buttons, or send it "
                                "with curl -X POST -H 'X-Runic-UI: 1')")
        origin = self.headers.get("Origin")
        host = (self.headers.get("Host") or "").strip().lower()
        if origin is not None and origin.lower() != f"http://{host}":
            raise _Problem(403, f"actions are accepted from this dashboard's own pages only (Origin {origin!r})")
        site = self.headers.get("Sec-Fetch-Site")
        if site is not None and site not in ("same-origin", "none"):
            raise _Problem(403, "actions are accepted from this dashboard's own pages only")

    def _dispatch(self, handler: Callable[[list[str], dict[str, list[str]]], None]) -> None:
        try:
            self._check_host()
            parts = urlsplit(self.path)
            segments = [unquote(s) for s in parts.path.split("/")[1:]]
            handler(segments, parse_qs(parts.query))
        except _Problem as exc:
            self._error(exc.status, exc.message)
        except ActionError as exc:
            self._error(exc.http_status, exc.message)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the browser left
        except StoreError as exc:
            log.warning("dashboard: the store failed: %s", exc)
            self._error(503, f"the store could not be read: {exc}")
        except RunicError as exc:  # e.g. a stored workflow whose events cannot be read back
            log.warning("dashboard: %s %s: %s: %s", self.command, self.path, type(exc).__name__, exc)
            self._error(500, f"{type(exc).__name__}: {exc}")
        except Exception as exc:  # noqa: BLE001 - one request fails, the dashboard goes on
            log.exception("dashboard: %s %s failed", self.command, self.path)
            self._error(500, f"unexpected error: {type(exc).__name__}: {exc} (the dashboard's log has the traceback)")

    # ------------------------------------------------------------------ methods
    def do_GET(self) -> None:  # noqa: N802 - the base class's name
        self._dispatch(self._get)

    def do_HEAD(self) -> None:  # noqa: N802
        self._dispatch(self._get)

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch(self._post)

    def _get(self, seg: list[str], query: dict[str, list[str]]) -> None:
        app = self.app
        if seg in ([""], []):
            self._send(200, app.render("workflows", title="runic workflows"), "text/html; charset=utf-8")
        elif len(seg) == 2 and seg[0] == "workflows" and seg[1]:
            wid = app.workflow_id(seg[1])
            self._send(200, app.render("workflow", id=str(wid), title=f"{wid} · runic"), "text/html; charset=utf-8")
        elif len(seg) >= 2 and seg[0] == "static":
            found = static_file("/".join(seg[1:]))
            if found is None:
                raise _Problem(404, f"no file {'/'.join(seg[1:])!r} in the dashboard")
            self._send(200, found[0], found[1])
        elif seg[0] == "api":
            self._api_get(seg[1:], query)
        else:
            raise _Problem(404, f"nothing at {urlsplit(self.path).path}; the workflows page is /")

    def _api_get(self, seg: list[str], query: dict[str, list[str]]) -> None:
        app = self.app
        if seg == ["workflows"]:
            statuses = [s for v in query.get("status", []) for s in v.split(",") if s]
            unknown = [s for s in statuses if s not in STATUSES]
            if unknown:
                raise _Problem(400, f"unknown status {', '.join(unknown)}; the statuses are {', '.join(STATUSES)}")
            data = workflow_list(app.store, statuses=statuses, text=(query.get("q") or [""])[-1],
                                 limit=max(1, _one(query, "limit", 500) or 500))
            self._json({**data, "where": app.source.where, "read_only": app.read_only, "now": _now_ms()})
        elif len(seg) == 2 and seg[0] == "workflows":
            wid = app.workflow_id(seg[1])
            data = app.cache.get(app.store, wid).data
            self._json({**data, "read_only": app.read_only, "now": _now_ms()})
        elif len(seg) == 3 and seg[0] == "workflows" and seg[2] == "events":
            wid = app.workflow_id(seg[1])
            detail = app.cache.get(app.store, wid)
            self._json(timeline(app.store, detail, after=_one(query, "after"), before=_one(query, "before"),
                                limit=_one(query, "limit", 200) or 200))
        elif len(seg) == 3 and seg[0] == "workflows" and seg[2] == "live":
            self._live(app.workflow_id(seg[1]))
        else:
            raise _Problem(404, f"no API at {urlsplit(self.path).path}")

    def _post(self, seg: list[str], query: dict[str, list[str]]) -> None:
        app = self.app
        if not (len(seg) == 4 and seg[:2] == ["api", "workflows"] and seg[3] in ACTIONS):
            raise _Problem(404, f"no action at {urlsplit(self.path).path}; the actions are {', '.join(ACTIONS)}")
        self._check_action_request()
        if app.actions is None:
            raise _Problem(403, "this dashboard is read-only (started with --read-only); it changes nothing")
        wid = app.workflow_id(seg[2])
        outcome = getattr(app.actions, seg[3])(wid)
        log.info("dashboard: %s", outcome.message)
        self._json({"message": outcome.message, "changed": outcome.changed, **live_state(app.store, wid)})

    def _live(self, wid: Hashable) -> None:
        """Server-sent events: ``state`` whenever status, event count or owner change; a comment
        line every :data:`LIVE_PING_SECONDS` (so a closed page is noticed); ends when the
        dashboard stops."""
        app = self.app
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-store")
        for key, value in SECURITY_HEADERS.items():
            self.send_header(key, value)
        self.end_headers()
        if self.command == "HEAD":
            return
        self.wfile.write(b"retry: 2000\n\n")
        self.wfile.flush()
        last: dict | None = None
        quiet_since = time.monotonic()
        while not app.stopping.is_set():
            try:
                state = live_state(app.store, wid)
            except StoreError as exc:  # the page reconnects (``retry``) and tries again
                log.warning("dashboard: live view of %r ends: the store failed: %s", wid, exc)
                return
            if state != last:
                last = state
                self.wfile.write(b"event: state\ndata: " + json.dumps(state, ensure_ascii=False).encode() + b"\n\n")
                self.wfile.flush()
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since > LIVE_PING_SECONDS:
                self.wfile.write(b": ping\n\n")
                self.wfile.flush()
                quiet_since = time.monotonic()
            app.stopping.wait(app.live_poll)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000
