"""`python -m cxloop` runs the CLI."""

from cxloop.cli.main import main

main()
