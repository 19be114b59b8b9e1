"""Typed hooks (trading.core.hooks): how tenders let the opening and the awards react without naming
them, and how the composition root wires them (trading.app.connect_stages)."""

from __future__ import annotations

import pytest

from trading.app import connect_stages
from trading.core.hooks import Hook
from trading.tenders import hooks as tender_hooks


def test_connected_functions_run_in_order_with_the_callers_arguments() -> None:
    calls: list[str] = []
    hook: Hook[[str, int], str] = Hook("test")

    def first(name: str, n: int) -> str:
        calls.append(f"first {name} {n}")
        return "a"

    def second(name: str, n: int) -> str:
        calls.append(f"second {name} {n}")
        return "b"

    hook.connect(first)
    hook.connect(second)
    assert hook("x", n=2) == ["a", "b"]
    assert calls == ["first x 2", "second x 2"]


def test_connecting_the_same_function_twice_keeps_one() -> None:
    calls: list[int] = []
    hook: Hook[[int], None] = Hook("test")

    def react(n: int) -> None:
        calls.append(n)

    assert hook.connect(react) is react
    hook.connect(react)
    assert hook.functions == (react,)
    hook(1)
    assert calls == [1]


def test_an_exception_reaches_the_caller_and_stops_the_later_functions() -> None:
    calls: list[str] = []
    hook: Hook[[], None] = Hook("test")

    def fails() -> None:
        calls.append("fails")
        raise RuntimeError("no ceremony")

    def later() -> None:
        calls.append("later")

    hook.connect(fails)
    hook.connect(later)
    with pytest.raises(RuntimeError, match="no ceremony"):
        hook()
    assert calls == ["fails"]


def test_a_hook_with_nothing_connected_returns_nothing() -> None:
    assert Hook[[int], int]("empty")(1) == []


def test_the_stages_are_wired_once_however_often_the_wiring_runs() -> None:
    connect_stages()
    before = {
        h.name: h.functions
        for h in (tender_hooks.tender_published, tender_hooks.tender_terminated, tender_hooks.tender_page_context)
    }
    connect_stages()
    connect_stages()
    after = {
        h.name: h.functions
        for h in (tender_hooks.tender_published, tender_hooks.tender_terminated, tender_hooks.tender_page_context)
    }
    assert after == before
    names = {name: [f"{f.__module__}.{f.__name__}" for f in fns] for name, fns in after.items()}
    assert names == {
        "tender_published": ["trading.opening.ceremonies.create_ceremonies"],
        "tender_terminated": ["trading.opening.stages.cancel_for_termination"],
        "tender_page_context": [
            "trading.opening.display.tender_page_context",
            "trading.awards.award.tender_page_context",
            "trading.opendata.pages.tender_page_context",
        ],
    }


def test_a_required_hook_refuses_to_run_with_nothing_connected() -> None:
    """A tender published in a process that never wired the stages would have no ceremonies."""
    hook: Hook[[int], None] = Hook("needed", required=True)
    with pytest.raises(RuntimeError, match="needed"):
        hook(1)
    hook.connect(lambda n: None)
    assert hook(1) == [None]
    assert tender_hooks.tender_published.required and tender_hooks.tender_terminated.required
