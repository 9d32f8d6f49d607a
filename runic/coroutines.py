"""Python functions as users write them: awaiting coroutines, materialising one-shot iterators.

``async def`` steps, conditions, reactions and reducers return coroutine objects; runic runs
them to completion where the function was called and uses the awaited value (:func:`settle`,
:func:`awaited`). A step (or reaction) that returns a one-shot iterator — a generator, ``map``,
``zip``, an async generator... — has it turned into a ``list`` once, right there
(:func:`settle`), and so does an input given to ``react``/``plan`` (:func:`materialise`):
facts are values that several children may read, that are hashed and persisted, and an
iterator could be consumed only once (a ``map`` fed by a generator used to map nothing).

Which event loop runs a coroutine (decided per call, in the calling thread):

* a thread without a running event loop (the usual case: the caller of
  ``react_until_satisfied``, a parallel worker thread, a Runner's step threads and executors)
  uses its **own loop**, created on first use and reused for every later coroutine in that
  thread (~28 µs per call measured by ``bench/async_steps.py``, against 130-180 µs for
  ``asyncio.run``, which builds and closes a loop each time); it is closed when the
  thread ends. A coroutine's leftover tasks are cancelled when it returns;
* a thread whose event loop is running (``react_until_satisfied`` called from ``async`` code,
  or from a callback of that loop) cannot run a second loop: the coroutine runs on a shared
  helper thread ("runic-async", with its own loop) and the calling thread blocks until it is
  done — as it would for a synchronous step. Such a coroutine must not need the caller's loop.

After a ``fork`` the child makes its own loops (a loop and its selector cannot be shared).
"""

from __future__ import annotations

import asyncio
import io
import os
import threading
import types
from typing import Any, Awaitable

__all__ = ["settle", "awaited", "materialise", "run_awaitable"]

_CORO = types.CoroutineType
_PLAIN = frozenset({int, float, str, bytes, bool, type(None), list, tuple, dict, set, frozenset, complex})


class _OwnLoop:
    """The loop of one thread; closed when the thread ends (its thread-local is dropped)."""

    __slots__ = ("loop", "pid")

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.pid = os.getpid()

    def __del__(self) -> None:
        loop = self.loop
        if self.pid == os.getpid() and not loop.is_closed() and not loop.is_running():
            try:
                loop.close()
            except Exception:  # noqa: BLE001 - interpreter shutdown
                pass


_local = threading.local()
_helper_lock = threading.Lock()
_helper: tuple[int, asyncio.AbstractEventLoop] | None = None


def _own_loop() -> asyncio.AbstractEventLoop:
    holder = getattr(_local, "holder", None)
    if holder is None or holder.pid != os.getpid() or holder.loop.is_closed():
        holder = _local.holder = _OwnLoop()
    return holder.loop


def _helper_loop() -> asyncio.AbstractEventLoop:
    global _helper
    with _helper_lock:
        if _helper is None or _helper[0] != os.getpid() or _helper[1].is_closed():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="runic-async", daemon=True).start()
            _helper = (os.getpid(), loop)
        return _helper[1]


async def _complete(aw: Awaitable[Any]) -> Any:
    """Await ``aw``, then cancel the tasks it left behind (as ``asyncio.run`` does)."""
    try:
        return await aw
    finally:
        me = asyncio.current_task()
        left = [t for t in asyncio.all_tasks() if t is not me and not t.done()]
        for t in left:
            t.cancel()
        if left:
            await asyncio.gather(*left, return_exceptions=True)


def run_awaitable(aw: Awaitable[Any]) -> Any:
    """Run ``aw`` to completion from synchronous code and return its result (or raise its
    exception), on this thread's own loop or, when a loop is running here, on the helper
    thread (see the module docs)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _own_loop().run_until_complete(_complete(aw))
    return asyncio.run_coroutine_threadsafe(_complete(aw), _helper_loop()).result()


async def _collect(agen: Any) -> list[Any]:
    return [x async for x in agen]


def awaited(value: Any) -> Any:
    """``value``, or the awaited value when it is a coroutine (conditions, reducers)."""
    if value.__class__ is _CORO:
        return run_awaitable(value)
    return value


def materialise(value: Any) -> Any:
    """A one-shot iterator (generator, ``map``, ``zip``...) as a ``list``; anything else as is
    (collections, which can be iterated again, and files are left alone)."""
    cls = value.__class__
    if cls in _PLAIN:
        return value
    if cls is types.AsyncGeneratorType:
        return run_awaitable(_collect(value))
    if hasattr(cls, "__next__") and hasattr(cls, "__iter__") and not isinstance(value, io.IOBase):
        try:
            if iter(value) is value:
                return list(value)
        except TypeError:
            return value
    return value


def settle(value: Any) -> Any:
    """What a step's result becomes: awaited if it is a coroutine, then materialised if it is a
    one-shot iterator (see the module docs)."""
    cls = value.__class__
    if cls in _PLAIN:
        return value
    if cls is _CORO:
        value = run_awaitable(value)
    return materialise(value)
