"""Shared helpers for benchmarks: JSON figure lines, medians, peak-RSS growth on Linux."""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from typing import Any


def emit(name: str, value: float, unit: str, ratio: float | None, target: float | None, better: str) -> None:
    print(
        json.dumps(
            {
                "name": name,
                "value": round(value, 4),
                "unit": unit,
                "ratio": None if ratio is None else round(ratio, 4),
                "target": target,
                "better": better,
            },
            ensure_ascii=False,
        ),
        flush=True,
    )


def median_time(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def paired_times(baseline: Callable[[], Any], candidate: Callable[[], Any], repeat: int) -> tuple[float, float]:
    """Median times of two functions run alternately, so machine noise hits both alike."""
    a: list[float] = []
    b: list[float] = []
    for _ in range(repeat):
        for fn, out in ((baseline, a), (candidate, b)):
            t = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t)
    return statistics.median(a), statistics.median(b)


def _status(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(field)


def peak_growth(fn: Callable[[], Any]) -> int:
    """Bytes by which the peak RSS rose above the RSS at the start of ``fn``."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # resets VmHWM to the current RSS (Linux ≥ 4.0)
    base = _status("VmRSS")
    fn()
    return _status("VmHWM") - base


def pg_database(prefix: str) -> Any:
    """A new PostgreSQL database for a benchmark (the tests' helper; GGZY_TEST_PG names the server)."""
    from tests.conftest import fresh_pg_database

    return fresh_pg_database(prefix)
