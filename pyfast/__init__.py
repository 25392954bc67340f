"""pyfast: a drop-in accelerated runtime for CPython.

Public API:

- ``pyfast.install(**options)`` switches pyfast on in the running interpreter (the
  ``sitecustomize`` opt-in is ``import pyfast; pyfast.install()``).  Options are the fields of
  ``pyfast.settings.Settings``; unspecified ones come from the ``PYFAST_*`` environment.
- ``pyfast.uninstall()`` switches it off again; already-compiled functions keep working.
"""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__", "install", "uninstall"]


def install(**options: object) -> None:
    from pyfast import _autoload

    _autoload.install(**options)


def uninstall() -> None:
    from pyfast import _autoload

    _autoload.uninstall()
