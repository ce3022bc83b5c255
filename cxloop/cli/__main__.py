"""``python -m cxloop.cli ...``: the same command line as the ``cxloop`` script (the Makefile
and the README run it this way)."""

from cxloop.cli import app

app()
