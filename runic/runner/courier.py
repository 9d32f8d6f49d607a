"""The runner actor's half of the cluster's requests: those about other nodes' workflows, and
the inbox requests for its own.

A Runner asked to ``run``, ``stop``, ``cancel`` or await a workflow it does not hold, whose
owner is another live node (or nobody alive: whoever takes it over applies the request), writes
the request to the store's inbox (:meth:`Courier._via_inbox`) and answers the caller once the
write committed (``run``), or once the owner applied it or the workflow settled (a
:class:`~runic.runner.cluster.RemoteWait`, checked on every change signal and poll). As the
owner, it reads the pending requests of the workflows it runs and delivers them to their worker
hosts, one at a time and in order per workflow (:meth:`Courier._deliver_inbox`), and marks each
done once its host answered (:meth:`Courier._inbox_answered`). What a request carries and how a
host applies it exactly once: :mod:`runic.runner.inbox`.

:class:`Courier` is a mixin of :class:`~runic.runner.actor.RunnerActor` (its state and methods
written once here, out of the actor's 900 lines); what it uses of the actor is declared in its
``TYPE_CHECKING`` block. **Thread:** every method runs on the runner actor's thread (thespian's),
which also does their store I/O.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import TYPE_CHECKING, Any

from ..codec import EncodeError
from ..store import StoreEncodeError
from ..supervisor.messages import ErrorReply
from . import inbox, stored
from .cluster import RemoteWait, RemoteWaits
from .errors import error_for
from .messages import Accepted

if TYPE_CHECKING:  # pragma: no cover
    from .lease import NodeLease
    from .placement import Placement

__all__ = ["Courier", "INBOX_RESEND_S"]

log = logging.getLogger("runic.runner")

INBOX_RESEND_S = 30.0
"""An inbox request delivered to a host that did not answer within this time is delivered again
(the host applies it at most once)."""


def _refused(reply: ErrorReply) -> bool:
    """Whether a host's error answer to an inbox request is final (bad input: the request is
    marked done with the error) rather than passing (the store fails, the host restarts)."""
    exc = error_for(reply.type, reply.message)
    return isinstance(exc, (ValueError, TypeError)) and not isinstance(exc, LookupError)


class Courier:
    """Requests between nodes, through the store's inbox (see the module docs)."""

    if TYPE_CHECKING:  # what it uses of the runner actor
        conf: dict[str, Any]
        store: Any
        lease: NodeLease | None
        placement: Placement
        myAddress: Any  # noqa: N815 - thespian's

        def send(self, to: Any, msg: Any) -> None: ...
        def child_address(self, child_id: str) -> Any: ...
        def _reply_error(self, to: Any, exc: BaseException, ref: Any) -> None: ...
        def _forget(self, wid: Any) -> None: ...

    def _init_courier(self) -> None:
        #: callers waiting for a workflow another node runs (its request applied, or it settled)
        self.remote = RemoteWaits()
        #: inbox requests delivered to a host and not answered yet: ref -> (workflow id, seq, kind, sent)
        self.inbox_refs: dict[Any, tuple[Any, int, str, float]] = {}
        self.inbox_busy: dict[Any, Any] = {}  # workflow id -> ref of its request in flight

    def _drop_deliveries(self) -> None:
        """Forget the requests in flight (this node's Workers were stopped: the next owner
        delivers them again)."""
        self.inbox_busy.clear()
        self.inbox_refs.clear()

    def _other_owner(self, wid: Any) -> str | None:
        """The node that runs ``wid``, if that is another live node of the cluster."""
        if self.lease is None or self.store is None:
            return None
        owner = self.store.owner(wid)
        node, generation = getattr(owner, "node", None), getattr(owner, "generation", None)
        if node is None or (node, generation) == (self.lease.node, self.lease.generation):
            return None
        return node if self.lease.alive(node, generation) else None

    def _via_inbox(self, msg: Any, sender: Any, kind: str, payload: dict[str, Any] | None) -> bool:
        """A request about a workflow this node does not hold: written to the store's inbox for
        its owner (True), when another live node runs it or it is running with no live owner
        (whoever takes it over applies the request). False: not for the inbox (the caller's
        usual path answers)."""
        if self.lease is None or self.store is None:
            return False
        wid = msg.workflow_id
        try:
            status = self.store.status(wid)
            owner = self._other_owner(wid)
        except Exception as exc:  # noqa: BLE001 - the store fails
            self._reply_error(sender, exc, msg.ref)
            return True
        orphan = status == "running" and owner is None and self._orphaned(wid)
        if owner is None and not orphan:
            return False
        if status in ("stopped", "cancelled") or status is None:
            return False
        try:
            if kind == "run":
                payload = inbox.run_payload(msg)
                if payload["policies"]:
                    stored.load(self.store, wid).check_policy_targets(payload["policies"])
            seq = self.store.inbox_put(wid, kind, payload or {})
        except (StoreEncodeError, EncodeError) as exc:
            self._reply_error(sender, EncodeError(
                f"workflow {wid!r} runs on another node ({owner or 'being taken over'}): its {kind} request travels "
                f"through the store, and {exc}. Pass values runic.codec can encode (register the type with "
                "runic.codec.register)"), msg.ref)
            return True
        except Exception as exc:  # noqa: BLE001 - bad policies, or the store fails: not accepted
            self._reply_error(sender, exc, msg.ref)
            return True
        log.debug("runner %r: %s request %d for workflow %r (node %s) written to the inbox",
                  self.conf.get("runner"), kind, seq, wid, owner)
        if kind == "run":
            self.send(sender, Accepted(wid, msg.ref, seq))
        else:
            self.remote.add(wid, RemoteWait(sender, msg.ref, "applied", seq))
            self._check_remote([wid])
        return True

    def _orphaned(self, wid: Any) -> bool:
        """``wid`` is running with no live owner (dead, expired, unknown) and not this node's."""
        assert self.lease is not None
        owner = self.store.owner(wid)
        node, generation = getattr(owner, "node", None), getattr(owner, "generation", None)
        return (node, generation) != (self.lease.node, self.lease.generation)

    def _check_remote(self, wids: list[Any]) -> None:
        if not wids or self.store is None:
            return
        for to, reply in self.remote.check(self.store, wids):
            self.send(to, reply)

    def _deliver_inbox(self) -> None:
        """Deliver the pending inbox requests of the workflows this node runs to their hosts:
        per workflow the oldest one, when none of its requests is in flight."""
        if self.lease is None or self.store is None or self.lease.generation is None:
            return
        now = time.monotonic()
        for ref, (wid, _seq, _kind, sent) in list(self.inbox_refs.items()):
            if now - sent > INBOX_RESEND_S:  # its host never answered (it died): deliver again
                self.inbox_refs.pop(ref, None)
                self.inbox_busy.pop(wid, None)
        try:
            items = self.store.inbox_pending(self.lease.node, self.lease.generation)
        except Exception:  # noqa: BLE001 - the next poll tries again
            log.exception("runner %r: reading the inbox failed", self.conf.get("runner"))
            return
        for item in items:
            wid = item.workflow_id
            if wid in self.inbox_busy:
                continue
            e = self.placement.running(wid)
            addr = self.child_address(e.host) if e is not None else None
            if addr is None:
                self.inbox_busy[wid] = None  # not live here (yet): its later requests wait too
                continue
            request = inbox.delivery(item)
            self.inbox_refs[request.ref] = (wid, item.seq, item.kind, now)
            self.inbox_busy[wid] = request.ref
            self.send(addr, dataclasses.replace(request, reply_to=self.myAddress))
        for wid in [w for w, ref in self.inbox_busy.items() if ref is None]:
            del self.inbox_busy[wid]

    def _inbox_answered(self, ref: Any, error: ErrorReply | None) -> None:
        wid, seq, kind, _sent = self.inbox_refs.pop(ref)
        self.inbox_busy.pop(wid, None)
        assert self.store is not None
        if error is not None and not _refused(error):
            log.warning("runner %r: inbox %s request %d for workflow %r not applied yet (%s: %s); retrying",
                        self.conf.get("runner"), kind, seq, wid, error.type, error.message)
            return
        try:
            self.store.inbox_ack(wid, seq, None if error is None else f"{error.type}: {error.message}")
        except Exception:  # noqa: BLE001 - redelivered later, and answered "already applied"
            log.exception("runner %r: marking inbox request %d of %r done failed", self.conf.get("runner"), seq, wid)
            return
        if error is None and kind in ("stop", "cancel"):
            self._forget(wid)
        self._check_remote([wid])
        self._deliver_inbox()
