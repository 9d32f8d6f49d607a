"""``AsyncRunner``: the Runner for asyncio code (FastAPI, aiohttp, ...).

Every operation of :class:`~runic.runner.Runner` as a coroutine, and an async context manager::

    async with await AsyncRunner.start_link(name="app", store=MnesiaStore) as runner:
        await runner.start_workflow("order-7", wf)
        status = await runner.run("order-7", order, await_idle=True)

Waits (``await_idle``, ``run(..., await_idle=True)``, ``await_many``) run on the event loop
itself: they await the reply's future on the direct channel (``asyncio.wrap_future``) and follow
the same plan as the threads' waits (:meth:`Runner._settle_ops`: probe a silent wait, follow a
restarted host, end on a lost workflow), so thousands of concurrent waits cost no thread.
Quick requests (``get_results``, ``status``, a start) run on the default executor's threads.
One :class:`AsyncRunner` may be used from many tasks at once, and alongside the sync handle it
wraps (:attr:`AsyncRunner.runner`).
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any, Callable, Iterable, TypeVar

from .door import check_id
from .messages import AwaitIdle, ProbeReply
from .runner import Runner, _Token

__all__ = ["AsyncRunner"]

_T = TypeVar("_T")


class AsyncRunner:
    """An asyncio facade over a :class:`~runic.runner.Runner` (see the module docs)."""

    def __init__(self, runner: Runner) -> None:
        self.runner = runner

    @classmethod
    async def start_link(cls, **options: Any) -> "AsyncRunner":
        """:meth:`Runner.start_link` (same arguments), without blocking the event loop."""
        return cls(await asyncio.to_thread(functools.partial(Runner.start_link, **options)))

    async def __aenter__(self) -> "AsyncRunner":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.shutdown()

    def __repr__(self) -> str:
        return f"<AsyncRunner {self.runner.name!r}>"

    async def _in_thread(self, fn: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        return await asyncio.to_thread(functools.partial(fn, *args, **kwargs))

    # ------------------------------------------------------------------ waits, on the loop
    async def _settle(self, workflow_id: Any, first: Any, timeout: float | None, raise_on_failure: bool) -> str:
        r = self.runner
        ops = r._settle_ops(workflow_id, first, timeout, raise_on_failure)
        value: Any = None
        failure: BaseException | None = None
        while True:
            try:
                op = ops.throw(failure) if failure is not None else ops.send(value)
            except StopIteration as stop:
                return str(stop.value)
            failure = None
            try:
                if op[0] == "arm":
                    value = await asyncio.to_thread(r._arm, op[1])
                elif op[0] == "wait":
                    value = await self._wait(op[1], op[2])
                else:
                    reply = await asyncio.to_thread(r._ask, op[1], ProbeReply)
                    value = reply.states[workflow_id]
            except BaseException as exc:  # noqa: BLE001 - raised inside the plan, which decides
                failure = exc

    async def _wait(self, tokens: list[_Token], seconds: float) -> tuple[_Token, Any] | None:
        if any(t.future is None for t in tokens):  # a request through the runner actor: its thread waits
            return await asyncio.to_thread(self.runner._wait_tokens, tokens, seconds)
        if not tokens:
            await asyncio.sleep(seconds)
            return None
        waiting = {asyncio.wrap_future(t.future): t for t in tokens if t.future is not None}
        done, _ = await asyncio.wait(waiting, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        for fut in done:
            exc = fut.exception()
            return waiting[fut], exc if exc is not None else fut.result()
        return None

    async def await_idle(self, workflow_id: Any, timeout: float | None = None, raise_on_failure: bool = True) -> str:
        """:meth:`Runner.await_idle` as a coroutine (on the event loop, no thread)."""
        wid = check_id(workflow_id)
        return await self._settle(wid, AwaitIdle(wid), timeout, raise_on_failure)

    async def await_many(self, workflow_ids: Iterable[Any], timeout: float | None = None) -> dict[Any, str]:
        """:meth:`Runner.await_many` as a coroutine: ``{workflow_id: status}``, failed ones too."""
        ids = list(dict.fromkeys(workflow_ids))
        statuses = await asyncio.gather(*(self.await_idle(w, timeout, raise_on_failure=False) for w in ids))
        return dict(zip(ids, statuses))

    async def run(self, workflow_id: Any, input: Any, run_context: dict[str, Any] | None = None,  # noqa: A002
                  scheduler_policies: list[Any] | None = None, *, await_idle: bool = False,
                  timeout: float | None = None, raise_on_failure: bool = True) -> str | None:
        """:meth:`Runner.run`; with ``await_idle=True`` the wait runs on the event loop."""
        if not await_idle:
            await self._in_thread(self.runner.run, workflow_id, input, run_context, scheduler_policies,
                                  timeout=timeout)
            return None
        msg = await self._in_thread(self.runner._run_request, workflow_id, input, run_context, scheduler_policies)
        return await self._settle(msg.workflow_id, msg, timeout, raise_on_failure)

    # ------------------------------------------------------------------ everything else, on threads
    async def start_workflow(self, workflow_id: Any, workflow: Any, **options: Any) -> str:
        return await self._in_thread(self.runner.start_workflow, workflow_id, workflow, **options)

    async def start_many(self, workflow: Any, items: Iterable[tuple[Any, Any]], *, await_idle: bool = False,
                         timeout: float | None = None, **options: Any) -> dict[Any, Any]:
        started = await self._in_thread(self.runner.start_many, workflow, list(items), timeout=timeout, **options)
        if await_idle:
            await self.await_many(list(started), timeout)
        return started

    async def status(self, workflow_id: Any) -> str:
        return await self._in_thread(self.runner.status, workflow_id)

    async def failures(self, workflow_id: Any) -> list[Any]:
        return await self._in_thread(self.runner.failures, workflow_id)

    async def get_results(self, workflow_id: Any, components: list[Any] | None = None, *, facts: bool = False,
                          all: bool = False) -> Any:  # noqa: A002
        return await self._in_thread(self.runner.get_results, workflow_id, components, facts=facts, all=all)

    async def get_workflow(self, workflow_id: Any) -> Any:
        return await self._in_thread(self.runner.get_workflow, workflow_id)

    async def checkpoint(self, workflow_id: Any) -> None:
        await self._in_thread(self.runner.checkpoint, workflow_id)

    async def stop(self, workflow_id: Any, persist: bool = True) -> None:
        await self._in_thread(self.runner.stop, workflow_id, persist)

    async def cancel(self, workflow_id: Any) -> None:
        await self._in_thread(self.runner.cancel, workflow_id)

    async def resume(self, workflow_id: Any, rehydration: str = "full", functions: Any = None,
                     **options: Any) -> str:
        return await self._in_thread(self.runner.resume, workflow_id, rehydration, functions, **options)

    async def list_workflows(self) -> list[Any]:
        return await self._in_thread(self.runner.list_workflows)

    async def lookup(self, workflow_id: Any) -> Any:
        return await self._in_thread(self.runner.lookup, workflow_id)

    async def tree(self) -> list[dict[str, Any]]:
        return await self._in_thread(self.runner.tree)

    async def nodes(self) -> list[dict[str, Any]]:
        return await self._in_thread(self.runner.nodes)

    async def shutdown(self) -> None:
        await self._in_thread(self.runner.shutdown)
