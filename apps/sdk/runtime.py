"""The SDK's own event loop thread, where every bridge channel lives.

One loop per process owns the grpc.aio channels, so each bridge has exactly one persistent
channel whether the app is sync or async. Async methods hop onto this loop and await the
result. Their plain-name twins (made by :func:`maybe_async`) behave as pydoover 0.x's do:
called where an event loop runs they return the awaitable, elsewhere they block on the SDK
loop until the result is there.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import threading
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import Future
from typing import Any, Concatenate, ParamSpec, TypeVar, cast

__all__ = [
    "SdkLoop",
    "await_or_block",
    "call_hook",
    "callback_loop",
    "dispatch",
    "maybe_async",
    "sdk_loop",
]

P = ParamSpec("P")
T = TypeVar("T")
S = TypeVar("S")


class SdkLoop:
    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._loop.is_closed():
                ready = threading.Event()
                loop = asyncio.new_event_loop()

                def run() -> None:
                    asyncio.set_event_loop(loop)
                    ready.set()
                    loop.run_forever()

                threading.Thread(target=run, name="revlink-sdk", daemon=True).start()
                ready.wait()
                self._loop = loop
            return self._loop

    def submit(self, coro: Coroutine[Any, Any, T]) -> Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    async def run_async(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await ``coro`` on the SDK loop from any loop (directly when already on it)."""
        loop = self.loop
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            return await coro
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, loop))

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the SDK loop and wait for it (from any thread but that loop's)."""
        loop = self.loop
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            coro.close()
            raise RuntimeError("a sync SDK method was called on the SDK loop; use its _async twin")
        return asyncio.run_coroutine_threadsafe(coro, loop).result()


sdk_loop = SdkLoop()


def _in_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def await_or_block(coro: Coroutine[Any, Any, T], is_async: bool | None = None) -> T:
    """``coro`` itself in async code (for the caller to await), else its result.

    ``is_async=False`` (a sync app's interfaces, or pydoover's ``run_sync=True``) blocks even
    where an event loop runs, as pydoover does for apps whose hooks are plain functions.
    """
    if is_async is not False and _in_event_loop():
        return cast(T, coro)
    return sdk_loop.run(coro)


def maybe_async(
    method: Callable[Concatenate[S, P], Awaitable[T]],
) -> Callable[Concatenate[S, P], T]:
    """The plain-name twin of an ``*_async`` method, with pydoover 0.x's ``@maybe_async``.

    Called from a coroutine (an ``async def`` app: ``await self.get_di(0)``) it returns the
    awaitable; called from plain code (a sync app's hooks, its threads) it blocks and returns
    the result. As in pydoover, an object whose ``_is_async`` is False (the interfaces of an
    app whose ``setup``/``main_loop`` are plain functions) always blocks, and so does any call
    given ``run_sync=True``. The annotation names the blocking result; async code that wants
    the checker's help calls the ``_async`` method itself.
    """

    def twin(self: S, /, *args: P.args, **kwargs: P.kwargs) -> T:
        run_sync = bool(kwargs.pop("run_sync", False))
        coro = method(self, *args, **kwargs)
        assert asyncio.iscoroutine(coro)
        is_async = False if run_sync else getattr(self, "_is_async", None)
        return cast(T, await_or_block(coro, is_async))

    functools.update_wrapper(twin, method)
    twin.__name__ = method.__name__.removesuffix("_async")
    twin.__qualname__ = method.__qualname__.removesuffix("_async")
    twin.__doc__ = (
        f"Twin of :meth:`{method.__name__}`: awaitable in async code, blocking elsewhere."
    )
    return twin


async def call_hook(function: Callable[..., Any], *args: Any) -> Any:
    """Run an app's hook: an ``async def`` one on this loop, a plain one in a worker thread
    (so blocking code never stalls the loop)."""
    if inspect.iscoroutinefunction(function):
        return await function(*args)
    return await asyncio.to_thread(function, *args)


def callback_loop(callback: Callable[..., Any]) -> asyncio.AbstractEventLoop | None:
    """The loop an ``async def`` callback will run on: the one registering it."""
    try:
        loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    if loop is None and inspect.iscoroutinefunction(callback):
        raise ValueError("register an async callback from async code (it runs on that loop)")
    return loop


def dispatch(
    callback: Callable[..., Any], loop: asyncio.AbstractEventLoop | None, *args: Any
) -> None:
    """Run an app callback from the SDK loop without blocking it.

    An ``async def`` callback runs on the loop that registered it (see :func:`callback_loop`),
    a plain one in a worker thread.
    """
    if inspect.iscoroutinefunction(callback):
        assert loop is not None  # callback_loop refused async callbacks without one
        asyncio.run_coroutine_threadsafe(callback(*args), loop)
    else:
        asyncio.get_running_loop().run_in_executor(None, callback, *args)
