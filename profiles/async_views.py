"""``async def`` views inside a profiled request, for ``profiles.middleware``.

Flask runs an ``async def`` view through asgiref's ``async_to_sync``: a new event loop
in another thread, which the request's profiler (sampling only its own thread) cannot
see. So the middleware's ``ensure_sync`` hands such a view to ``wrap_ensure_sync``
here, which, for a profiled request:

- pauses the request's profiler while the view runs, so the context asgiref copies
  into the view's loop holds no active profiler;
- runs a second profiler inside the coroutine, in the loop thread, so the profile shows
  the view's frames and ``[await]`` time; its samples are grafted under the request's
  stack at the call site;
- records the thread hop (new loop + executor thread) as ``[async_to_sync thread hop]``.

The aggregation drops this module's frames like the middleware's own
(``profiles.stacks``); their children stay.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from functools import wraps
from inspect import iscoroutinefunction
from typing import Any, Literal

from pyinstrument import Profiler
from pyinstrument.stack_sampler import build_call_stack

HOP_FRAME = "[async_to_sync thread hop]\x00<asgiref>\x000"

AsyncMode = Literal["enabled", "disabled", "strict"]  # pyinstrument's async_mode
View = Callable[..., Any]


def _identifier(frame_info: str) -> str:
    i = frame_info.find("\x01")
    return frame_info if i < 0 else frame_info[:i]


class AsyncPart:
    """One ``async def`` call inside a profiled request (a plain class: its frames are ours)."""

    __slots__ = ("cpu", "duration", "elapsed", "prefix", "samples")

    def __init__(self, prefix: list[str]) -> None:
        self.prefix = prefix
        self.samples: list[tuple[list[str], float]] = []
        self.duration = 0.0
        self.cpu = 0.0
        self.elapsed = 0.0


class ActiveRequest:
    """The profiled request running on this thread (or greenlet)."""

    __slots__ = ("async_mode", "async_parts", "interval", "profiler")

    def __init__(self, profiler: Profiler, interval: float, async_mode: AsyncMode) -> None:
        self.profiler = profiler
        self.interval = interval  # the async view's profiler samples like the request's
        self.async_mode = async_mode
        self.async_parts: list[AsyncPart] = []


def wrap_ensure_sync(
    original_async_to_sync: Callable[[View], View],
    current: Callable[[], ActiveRequest | None],
) -> Callable[[View], View]:
    """Flask's ``ensure_sync``, profiling ``async def`` views of a profiled request.

    ``current`` gives the profiled request of this thread (or greenlet), None when the
    request is not profiled: then the view runs exactly as Flask would run it.
    """

    def ensure_sync(func: Callable[..., Any]) -> Callable[..., Any]:
        if not iscoroutinefunction(func):
            return func
        active = current()
        if active is None:
            return original_async_to_sync(func)
        return _profiled_async(func, active, original_async_to_sync)

    return ensure_sync


def _profiled_async(
    func: View, active: ActiveRequest, async_to_sync: Callable[[View], View]
) -> View:
    interval = active.interval
    async_mode = active.async_mode
    part_holder: list[AsyncPart] = []

    @wraps(func)
    async def _bench_profiled_coroutine(*args: Any, **kwargs: Any) -> Any:
        part = part_holder[0]
        profiler = Profiler(interval=interval, async_mode=async_mode)
        c0 = time.thread_time()
        try:
            profiler.start(caller_frame=sys._getframe(), target_description="async view")
        except Exception:
            return await func(*args, **kwargs)
        try:
            return await func(*args, **kwargs)
        finally:
            session = profiler.stop()
            part.cpu = time.thread_time() - c0
            part.duration = session.duration
            part.samples = _graft(session.frame_records, part.prefix, _CORO_ID)

    runner = async_to_sync(_bench_profiled_coroutine)

    @wraps(func)
    def run_async_view(*args: Any, **kwargs: Any) -> Any:
        part = AsyncPart(prefix=build_call_stack(sys._getframe(), "initial", None))
        part_holder.append(part)
        profiler = active.profiler
        paused = profiler.is_running
        if paused:  # its context must not hold an active profiler when asgiref copies it
            profiler.stop()
        t0 = time.perf_counter()
        try:
            return runner(*args, **kwargs)
        finally:
            part.elapsed = time.perf_counter() - t0
            hop = part.elapsed - part.duration
            if hop > 0:
                part.samples.append(([*part.prefix, HOP_FRAME], hop))
            active.async_parts.append(part)
            if paused:
                profiler.start(caller_frame=sys._getframe())

    return run_async_view


def _graft(
    records: list[tuple[list[str], float]], prefix: list[str], marker: str
) -> list[tuple[list[str], float]]:
    """Re-root the coroutine's samples under the request thread's stack at the call site."""
    out = []
    for stack, seconds in records:
        for i, frame in enumerate(stack):
            if frame.startswith(marker) and _identifier(frame) == marker:
                out.append(([*prefix, *stack[i + 1 :]], seconds))
                break
        else:
            out.append(([*prefix, HOP_FRAME], seconds))
    return out


def _code_id(code: Any) -> str:
    return f"{code.co_name}\x00{code.co_filename}\x00{code.co_firstlineno}"


def _coroutine_id() -> str:
    """The frame identifier of the coroutine wrapper, under which the view's samples start."""
    # the coroutine function is created per call; its code object is shared
    for const in _profiled_async.__code__.co_consts:
        if getattr(const, "co_name", None) == "_bench_profiled_coroutine":
            return _code_id(const)
    raise RuntimeError("profiles.async_views: coroutine wrapper code not found")


_CORO_ID = _coroutine_id()
