"""A durable pipeline under a Runner: retries, timeouts, fallbacks, then stop and resume.

Run: python examples/durable_pipeline.py [DATA_DIR]   (default: a temporary directory)
"""

import sys
import tempfile
import time

import runic
from runic.runner import Runner
from runic.store import MnesiaStore

ATTEMPTS = {"n": 0}


def fetch(order_id):
    """Flaky: fails twice, then succeeds (retried by its policy)."""
    ATTEMPTS["n"] += 1
    if ATTEMPTS["n"] <= 2:
        raise ConnectionError(f"network hiccup #{ATTEMPTS['n']}")
    return {"id": order_id, "amount": 42}


def enrich(order):
    return {**order, "tax": round(order["amount"] * 0.2, 2)}


def slow_fraud_check(order):
    time.sleep(2)  # longer than its timeout: the fallback answers instead
    return "ok"


def fallback_verdict(runnable, error):
    return ("value", "manual-review")


def build() -> runic.Workflow:
    wf = runic.Workflow("orders")
    wf.add(runic.step(fetch))
    wf.add(runic.step(enrich), to="fetch")
    wf.add(runic.step(slow_fraud_check, name="fraud"), to="fetch")
    wf.add(runic.step(lambda order, verdict: {**order, "verdict": verdict}, name="decision"), to=["enrich", "fraud"])
    # the first matching policy wins: specific names first, then the default
    durable = {"execution_mode": "durable"}
    wf.append_scheduler_policy("fetch", {**durable, "max_retries": 3, "backoff": "exponential", "base_delay_ms": 50})
    wf.append_scheduler_policy("fraud", {**durable, "timeout_ms": 200, "fallback": fallback_verdict})
    wf.append_scheduler_policy("default", durable)
    return wf


def main() -> None:
    data_dir = sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="runic-example-")
    with Runner.start_link(name="shop", store=MnesiaStore, store_opts={"dir": data_dir}) as runner:
        runner.start_workflow("order-7", build())  # steps on threads: timeouts apply
        runner.run("order-7", 7)
        runner.await_idle("order-7", timeout=30)
        print("decision:", runner.get_results("order-7", ["decision"])["decision"])
        events = runner.get_workflow("order-7").runnable_events
        print("fetch attempts:", [e.attempt for e in events if type(e).__name__ == "RunnableDispatched"
                                  and e.node_name == "fetch"])
        runner.stop("order-7")
        print("stored:", runner.stored("order-7").status, "- resuming from the store ...")
        runner.resume("order-7", functions=build())  # the lambda join step comes from the definition
        print("after resume:", runner.get_results("order-7", ["decision"])["decision"])
    print("data lives in", data_dir)


if __name__ == "__main__":
    main()
