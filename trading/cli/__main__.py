"""``python -m trading.cli``, as ``ggzy`` (``serve`` starts its scheduler, workers and live server this way)."""

from trading.cli import main

main()
