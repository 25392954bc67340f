"""``python -m pyfast`` is the ``pyfast`` command."""

from pyfast.launcher.cli import main

main()
