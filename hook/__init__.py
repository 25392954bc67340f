"""pyfast.hook: the import hook and the runtime profiler.

Interface used by the launcher (the only one):

``install(settings)``
    Idempotent.  Puts the ``sys.meta_path`` finder in place, publishes the runtime names the
    instrumented bytecode reaches through ``builtins``, and arranges the ``--report`` /
    ``--report-json`` output at exit.
``uninstall()``
    Removes the finder; code already instrumented keeps running correctly.
``main_code(source, filename) -> CodeType``
    Compiles the ``__main__`` script (or ``-c`` / stdin code) through the same policy and
    instrumentation as imported modules.  Raises exactly python's ``SyntaxError``.
"""
