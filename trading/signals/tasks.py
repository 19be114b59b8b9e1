"""Scheduler jobs of signals: each opened lot's collusion signals, computed once after its opening."""

from __future__ import annotations
