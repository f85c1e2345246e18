"""`python -m studio.cli ...`: the same as the `studio` command."""

from . import run

run()
