"""Scheduler jobs of supervision: start and stop the clocks from new audit events and recolour the
ones that are due (``clocks.sweep``), and write the statistics' fact of each concluded lot
(``facts.sweep``)."""
