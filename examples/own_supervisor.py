"""Declare the Runner's tree as a children list under your own Supervisor (as in OTP).

    children = [(MnesiaStore, {"runner_name": "app", ...}), (Runner, {"name": "app", ...})]

The store actor starts first, then the runner (and its worker hosts). Your supervisor restarts
either one if it crashes; the store's data is not in its process, so a store restart loses
nothing and disturbs no running workflow.
"""

import os
import signal
import sys
import tempfile
import time

import runic
from runic.runner import Runner
from runic.store import MnesiaStore
from runic.supervisor import Supervisor


def shout(text):
    return text.upper() + "!"


def main() -> None:
    data_dir = sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="runic-example-")
    children = [
        (MnesiaStore, {"runner_name": "app", "dir": data_dir}),
        (Runner, {"name": "app", "store": MnesiaStore, "store_opts": {"dir": data_dir}, "pool_size": 2}),
    ]
    with Supervisor.start_link(children, strategy="one_for_one", max_restarts=3, max_seconds=5, name="mine") as sup:
        for child in sup.which_children():
            print(f"child {child.id:<12} pid {child.pid} ({child.type})")
        runner = Runner.attach(sup, "app")
        runner.start_workflow("hello", runic.workflow("hello", steps=[runic.step(shout)]), input="hello")
        runner.await_idle("hello", timeout=20)
        print("result:", runner.get_results("hello"))

        store_pid = next(c.pid for c in sup.which_children() if c.id == "app.Store")
        os.kill(store_pid, signal.SIGKILL)
        print(f"killed the store actor (pid {store_pid}) with SIGKILL")
        for _ in range(200):
            store = next(c for c in sup.which_children() if c.id == "app.Store")
            if store.pid not in (None, store_pid):
                break
            time.sleep(0.02)
        print(f"store actor restarted as pid {store.pid} (restarts: {store.restarts})")
        runner.run("hello", "still here")
        runner.await_idle("hello", timeout=20)
        print("runner undisturbed:", runner.get_results("hello"))
        print("tree:", [(e["id"], e["role"]) for e in runner.tree()])


if __name__ == "__main__":
    main()
