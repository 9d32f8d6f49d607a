"""Network namespaces for the cluster tests: one per node, one for the database.

Topology (made by :class:`Net`, all under a random tag so that parallel runs never collide)::

    namespace h9d<tag>   (the database)      namespace h9n<tag>A  (node A)
      bridge br0  10.77.0.1/24  <-- veth -->   h9v<tag>a  10.77.0.11/24, lo
                                <-- veth -->   (node B) 10.77.0.12/24, lo ...

Each node namespace has its own loopback, so each node's actor system (thespian, loopback
only) is private to it; nodes talk to each other only through PostgreSQL, which listens on
10.77.0.1 in the database namespace (and on a Unix socket, which the test process in the root
namespace uses to read the store: file systems are shared, networks are not).

* :meth:`Net.cut` / :meth:`Net.heal` take a node's link down and up (its bridge port, in the
  database namespace): the node keeps running, its TCP connections hang;
* :meth:`Net.kill` SIGKILLs every process of a node — every process in its namespace, listed
  by ``ip netns pids`` — as a machine dying would, until none is left;
* :meth:`Net.destroy` kills what is left in every namespace it made and deletes them (the
  veths and the bridge go with their namespaces).

Needs root and iproute2; :func:`unavailable` says why not, for a visible skip.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
import uuid

SUBNET = "10.77.0"
DB_ADDR = f"{SUBNET}.1"
BRIDGE_MAC = "02:72:75:6e:69:63"  # locally administered; fixed (see Net.__init__)


def unavailable() -> str | None:
    """``None`` if namespaces can be made here, else why the cluster tests are skipped."""
    if os.geteuid() != 0:
        return "the cluster tests make network namespaces: they need root"
    if shutil.which("ip") is None:
        return "the cluster tests need iproute2's `ip` (Debian package iproute2)"
    probe = f"h9probe{uuid.uuid4().hex[:6]}"
    done = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if done.returncode != 0:
        return f"cannot make a network namespace here: {done.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


def ip(*args: str) -> str:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


class Net:
    """The namespaces of one test (see the module docs)."""

    def __init__(self) -> None:
        self.tag = uuid.uuid4().hex[:4]
        self.db = f"h9d{self.tag}"
        self.nodes: dict[str, tuple[str, str, str]] = {}  # name -> (namespace, port in db ns, address)
        self.made: list[str] = []
        ip("netns", "add", self.db)
        self.made.append(self.db)
        ip("-n", self.db, "link", "set", "lo", "up")
        # the bridge's MAC address is set, not left to the kernel: a bridge without one takes the
        # lowest MAC of its ports, so a node joining with a lower one changed it, and the other
        # nodes (their ARP entries still naming the old address) lost the database for seconds —
        # long enough to lose a 3 s lease (measured: 11 s stalls; a CI failure of
        # test_recover_auto_on_a_new_node_takes_nothing_from_live_nodes)
        ip("-n", self.db, "link", "add", "br0", "address", BRIDGE_MAC, "type", "bridge")
        ip("-n", self.db, "addr", "add", f"{DB_ADDR}/24", "dev", "br0")
        ip("-n", self.db, "link", "set", "br0", "up")

    def add_node(self, name: str) -> str:
        """Make node ``name``'s namespace, linked to the bridge; returns the namespace."""
        index = len(self.nodes) + 1
        ns = f"h9n{self.tag}{name}"
        inner, outer = f"h9v{self.tag}{index}", f"h9p{self.tag}{index}"
        ip("netns", "add", ns)
        self.made.append(ns)
        ip("link", "add", inner, "type", "veth", "peer", "name", outer)
        ip("link", "set", inner, "netns", ns)
        ip("link", "set", outer, "netns", self.db)
        ip("-n", self.db, "link", "set", outer, "master", "br0")
        ip("-n", self.db, "link", "set", outer, "up")
        address = f"{SUBNET}.{10 + index}"
        ip("-n", ns, "addr", "add", f"{address}/24", "dev", inner)
        ip("-n", ns, "link", "set", inner, "up")
        ip("-n", ns, "link", "set", "lo", "up")
        self.nodes[name] = (ns, outer, address)
        return ns

    def namespace(self, name: str) -> str:
        return self.nodes[name][0]

    def cut(self, name: str) -> None:
        """Take node ``name``'s link down (the node keeps running)."""
        ip("-n", self.db, "link", "set", self.nodes[name][1], "down")

    def heal(self, name: str) -> None:
        ip("-n", self.db, "link", "set", self.nodes[name][1], "up")

    @staticmethod
    def pids(ns: str) -> list[int]:
        done = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True)
        return [int(p) for p in done.stdout.split()] if done.returncode == 0 else []

    def kill(self, name: str, timeout: float = 30.0) -> list[int]:
        """SIGKILL every process of node ``name`` until none is left; returns their pids."""
        return self._kill_ns(self.namespace(name), timeout)

    def _kill_ns(self, ns: str, timeout: float) -> list[int]:
        killed: set[int] = set()
        deadline = time.monotonic() + timeout
        while True:
            pids = self.pids(ns)
            if not pids:
                return sorted(killed)
            if time.monotonic() > deadline:
                raise RuntimeError(f"processes of namespace {ns} survive SIGKILL: {pids}")
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                killed.add(pid)
            time.sleep(0.02)

    def destroy(self) -> None:
        """Kill every process left in the namespaces and delete them (veths and bridge too)."""
        for ns in reversed(self.made):
            with contextlib.suppress(Exception):
                self._kill_ns(ns, 30.0)
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        self.made.clear()
