"""Scheduler jobs of open data."""
