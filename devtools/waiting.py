"""`eventually()`: poll a condition with a bound, instead of sleeping a fixed time or forever."""

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(
    check: Callable[[], T | Awaitable[T]],
    *,
    within: float = 5.0,
    interval: float = 0.02,
    what: str = "the condition",
) -> T:
    """Call `check` until it returns something truthy and return that; fail after `within` seconds.

    The failure names `what` and the last value `check` returned, so a test that waits for a
    state it never reaches fails with the state it was in, instead of hanging.
    """
    deadline = time.monotonic() + within
    while True:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value  # type: ignore[return-value]
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what} did not hold within {within:g}s (last: {value!r})")
        await asyncio.sleep(interval)
