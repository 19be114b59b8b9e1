"""The opendata stage's tables."""

from __future__ import annotations
