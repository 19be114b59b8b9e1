"""``python -m bidding.cli``, as before the split."""

from bidding.cli import main

main()
