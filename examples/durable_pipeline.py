"""A durable pipeline under a Runner: retries, timeouts, fallbacks, then stop and resume; and
what a step that fails for good looks like (the exception, the records, the command line).

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


def charge(order):
    raise ValueError(f"card expired for order {order}")


def build_failing() -> runic.Workflow:
    wf = runic.Workflow("payments")
    wf.add(runic.step(charge))
    wf.append_scheduler_policy("charge", {"max_retries": 1, "give_up_on": [ValueError]})
    return wf


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
        for failure in runner.failures("order-7"):  # every failed attempt is recorded, answered or not
            print("order-7 failure:", failure.summary(), f"-> {failure.action}")
        runner.stop("order-7")
        print("stored:", runner.stored("order-7").status, "- resuming from the store ...")
        runner.resume("order-7", functions=build())  # the lambda join step comes from the definition
        print("after resume:", runner.get_results("order-7", ["decision"])["decision"])

        runner.start_workflow("pay-8", build_failing())
        runner.run("pay-8", 8)
        try:
            runner.await_idle("pay-8", timeout=30)
        except runic.WorkflowFailedError as exc:  # names the step, the error and carries the records
            print("pay-8:", runner.status("pay-8"), "-", exc.failures[-1].summary())
        print(f"the whole story, after every process is gone: runic show pay-8 --dir {data_dir} --runner shop")
    print("data lives in", data_dir)


if __name__ == "__main__":
    main()
