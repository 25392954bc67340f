"""pyfast.launcher: the ``pyfast`` command, a drop-in ``python``.

``cli.main`` parses the command line (``cmdline``), applies python's own interpreter flags by
re-executing the interpreter with them, resolves the settings (options over ``PYFAST_*``
environment, ``PYFAST_DISABLE`` over everything), exports them for child processes, installs
``pyfast.hook`` and runs the target as ``__main__`` (``runner``) or starts the REPL
(``interactive``).
"""
