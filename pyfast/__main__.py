"""``python -m pyfast`` is the ``pyfast`` command."""

import sys

from pyfast.launcher.cli import main

# Returning (rather than raising SystemExit(0)) lets `-i` and PYTHONINSPECT reach the REPL.
if status := main():
    sys.exit(status)
