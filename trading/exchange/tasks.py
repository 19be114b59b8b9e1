"""Scheduler jobs of the national data exchange."""
