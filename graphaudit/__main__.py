"""`python -m graphaudit`."""

from graphaudit.cli import run

run()
