# PYTHONSTARTUP of the REPL that `pyfast` without a target starts: see interactive.py.
__import__("pyfast.launcher.interactive").launcher.interactive.startup()
