"""Typed hooks: how an earlier stage lets a later one react without naming it.

The earlier stage declares a hook with the signature it will call (``Hook[[Session, Tender], None]``)
and calls it at the moment the later stages care about; the composition root (``trading.app``)
connects the later stages' functions. Connected functions run in order, in the caller's
transaction, and an exception is not caught: it reaches the caller, whose transaction rolls back
with everything the hook's functions did (a tender is not published without its ceremonies).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


class Hook(Generic[P, R]):
    """A named list of functions with one signature, called in the order they were connected."""

    def __init__(self, name: str, *, required: bool = False) -> None:
        self.name = name
        #: a required hook refuses to run with nothing connected: the moment it marks needs a later
        #: stage's reaction (a tender published without its ceremonies would never open)
        self.required = required
        self._functions: list[Callable[P, R]] = []

    def connect(self, fn: Callable[P, R]) -> Callable[P, R]:
        """Add ``fn`` (once: connecting it again changes nothing, so wiring may run twice)."""
        if fn not in self._functions:
            self._functions.append(fn)
        return fn

    @property
    def functions(self) -> tuple[Callable[P, R], ...]:
        return tuple(self._functions)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> list[R]:
        """Each connected function's result, in order; the first exception stops the rest."""
        if self.required and not self._functions:
            raise RuntimeError(f"hook {self.name} has nothing connected: import trading.app (connect_stages)")
        return [fn(*args, **kwargs) for fn in self._functions]

    def __repr__(self) -> str:
        return f"Hook({self.name!r}, {len(self._functions)} connected)"
