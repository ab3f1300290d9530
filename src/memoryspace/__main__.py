"""``python -m memoryspace``: the command line."""

from memoryspace.cli import main

main()
