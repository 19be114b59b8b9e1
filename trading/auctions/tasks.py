"""Scheduler jobs of rights trading (being written)."""
