"""The ``sys.meta_path`` finder and loader: which modules pyfast takes over, and how.

In: import requests (``find_spec``), and the ``__main__`` source (``main_code``).
Out: module code objects instrumented by ``instrument`` (from the disk cache when valid) and
registered with ``runtime``; everything else is left to CPython's own machinery.

Policy (``Policy``): ``--exclude`` globs always win and pyfast itself is never taken over;
``--include`` globs add modules (even standard-library ones, e.g. ``test.*``); by default a
module is taken over when it is plain source (``SourceFileLoader``) outside the standard
library and outside every ``site-packages`` / ``dist-packages`` directory.  The finder sits
right before ``PathFinder`` and returns ``PathFinder``'s own spec, its loader's ``get_code``
replaced by a ``GetCode`` (an instance attribute: the loader is still exactly a
``SourceFileLoader``), so finders earlier in ``sys.meta_path``, namespace packages, zip
imports, extension, frozen and sourceless modules all behave as under python.
"""

from __future__ import annotations

import os
import site
import stat
import sys
from importlib.machinery import PathFinder, SourceFileLoader
from types import CodeType

from pyfast.hook import cache, instrument, runtime

from pyfast.settings import Settings

TYPE_CHECKING = False  # collections.abc costs 3.5 ms of every start-up
if TYPE_CHECKING:
    from collections.abc import Callable


class Policy:
    def __init__(self, settings: Settings) -> None:
        self.include = settings.include
        self.exclude = settings.exclude
        dirs = {os.path.dirname(os.__file__)}
        try:
            dirs.update(site.getsitepackages())
            dirs.add(site.getusersitepackages())
        except Exception:  # noqa: BLE001 - a stripped-down site module
            pass
        prefixes = set()
        for folder in dirs:
            for variant in (folder, os.path.realpath(folder)):
                prefixes.add(os.path.join(variant, ""))
        self.prefixes = tuple(sorted(prefixes))
        self._folders: dict[str, bool] = {}

    def by_name(self, fullname: str) -> bool | None:
        """True/False when the name decides; None when the module's location must."""
        top = fullname.partition(".")[0]
        if top == "pyfast":
            return False
        if self.exclude and runtime.matches(fullname, self.exclude):
            return False
        if self.include and runtime.matches(fullname, self.include):
            return True
        if top in sys.stdlib_module_names:
            return False
        return None

    def by_location(self, origin: str) -> bool:
        """Whether the source file ``origin`` is the user's: decided once per folder."""
        folder = origin.rpartition(os.sep)[0]
        decision = self._folders.get(folder)
        if decision is None:
            parts = folder.split(os.sep)
            outside = "site-packages" not in parts and "dist-packages" not in parts
            decision = self._folders[folder] = outside and not origin.startswith(self.prefixes)
        return decision


class Finder:
    def __init__(self, policy: Policy) -> None:
        self.policy = policy

    def find_spec(self, fullname: str, path=None, target=None):
        decision = self.policy.by_name(fullname)
        if decision is False:
            return None
        spec = PathFinder.find_spec(fullname, path, target)
        if spec is None or type(spec.loader) is not SourceFileLoader:
            return spec
        if decision is None and not self.policy.by_location(spec.origin):
            return spec
        spec.loader.get_code = GetCode(spec.loader)
        return spec

    def invalidate_caches(self) -> None:
        pass

    def step_aside(self, tracing: bool) -> None:
        """While a tracer, profiler or monitoring tool is active, ``find_spec`` is
        ``PathFinder``'s own (an instance attribute), so that a tracer sees python's frames
        during imports too; what is imported meanwhile runs uninstrumented.  ``sys.meta_path``
        is left alone: an import in another thread may be iterating it."""
        if tracing:
            self.find_spec = PathFinder.find_spec
        else:
            vars(self).pop("find_spec", None)


class GetCode:
    """A taken-over module's ``loader.get_code``: its instrumented code.  Two are equal when
    their loaders load the same file, so that loaders (compared by their attributes) and
    specs found twice compare as under python."""

    __slots__ = ("loader",)

    def __init__(self, loader: SourceFileLoader) -> None:
        self.loader = loader

    def __eq__(self, other: object) -> bool:
        if type(other) is not GetCode:
            return NotImplemented
        return (self.loader.name, self.loader.path) == (other.loader.name, other.loader.path)

    def __call__(self, fullname: str) -> CodeType:
        loader = self.loader
        path = loader.get_filename(fullname)
        try:
            # Without pyfast's cache, the original comes from python's own ``get_code``: its
            # ``.pyc`` when valid, else compiled, with the ``.pyc`` written as python does.
            return build(fullname, path, lambda: SourceFileLoader.get_code(loader, fullname))
        except SyntaxError:
            raise
        except Exception as exc:  # noqa: BLE001 - any hook failure: python's own path
            runtime.log(f"cannot instrument {fullname}: {exc!r}")
            return SourceFileLoader.get_code(loader, fullname)


def build(name: str, path: str, original_code: Callable[[], CodeType]) -> CodeType:
    """Instrumented, registered code for a module (cache first; else instrumenting
    ``original_code()``); SyntaxError as python's."""
    st = None
    cache_path = None
    if runtime.settings.cache:
        try:
            st = os.stat(path)
        except OSError:
            pass
        if st is not None and stat.S_ISREG(st.st_mode):
            cache_path = cache.path_for(path)
        else:
            st = None
    payload = cache.load(cache_path, st) if cache_path else None
    if payload is not None:
        result = instrument.Instrumented(*payload[0])
        original = payload[1]
    else:
        original = original_code()
        result = instrument_module(name, original)
    if payload is None and cache_path:
        import marshal

        cache.store(cache_path, st, (result.to_marshal(), marshal.dumps(original)))
    # an absolute path is normalised when the report asks (``ModuleRecord.file``)
    file = path if st is None or path.startswith(os.sep) else os.path.abspath(path)
    return runtime.register(name, file, result, original)


def instrument_module(name: str, original: CodeType) -> instrument.Instrumented:
    from pyfast.compiler import api
    from pyfast.compiler.garbage import Contained

    try:
        with Contained():  # bytecode's graphs: collected here, never by the program
            return instrument.instrument(original, api.prescreen)
    except Exception as exc:  # noqa: BLE001
        runtime.log(f"cannot instrument {name}: {exc!r}")
        failed = instrument.Untouched("<module>", 1, "failed", f"instrumentation error: {exc!r}")
        return instrument.Instrumented(original, [], [failed])
