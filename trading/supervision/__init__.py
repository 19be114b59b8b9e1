"""Supervision (监督): time-limit rules and their warnings, complaints to the supervising department,
the live monitor and the trading statistics. After awards in the stage order; nothing earlier
imports it."""
