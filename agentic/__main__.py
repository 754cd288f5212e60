"""`python -m agentic`: the same command line as the `agentic` script."""

from agentic.cli.main import main

main()
