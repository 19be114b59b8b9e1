"""Scheduler jobs of credit: the sweep that turns the platform's own trace into proposed entries."""

from __future__ import annotations
