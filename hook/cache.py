"""Disk cache of instrumented code, like ``.pyc`` files but under a pyfast-only name.

In: a source path, its ``os.stat`` result, and the instrumentation result to store.
Out: the stored result when it is still valid, else ``None``.

File: ``__pycache__/<stem>.<cache_tag>[.opt-N].pyfast-<version>-<checksum of fingerprint>.pyc``
next to CPython's own ``.pyc`` (never the same name), or ``<cache_dir>/<checksum of the
folder>-<stem>...`` with ``--cache-dir``; so runs with different compilers (or prescreens)
keep separate caches.  Layout: a 32-byte header -- ``MAGIC`` (8 bytes), the checksum of the
fingerprint, the source's mtime_ns and size (8 bytes each, little-endian) -- compared as bytes,
then the marshaled payload (``finder.build``: the instrumented tree with its placeholders, its
slot specs and its untouched functions (each marshaled again, read when needed), the
placeholders' sites, the number of slots, and the marshaled original tree).  The
fingerprint names everything that changes the instrumented bytes: pyfast's version, the Python
version and optimisation level, the prescreen and the size and mtime of every hook and
compiler source file (``prescreen`` decides what gets instrumented); it is made without
importing the compiler.  Writes are atomic (temporary file + ``os.replace``); a stale,
corrupt, unreadable or unwritable cache is ignored.  On a miss the finder takes the original
code from python's own ``SourceFileLoader.get_code``, which keeps CPython's ``.pyc`` as usual.
"""

from __future__ import annotations

import marshal
import os
import sys

from pyfast.hook import runtime

import pyfast

MAGIC = b"pyfast07"
HEADER = 32
_fingerprint: str | None = None
_key: bytes = b""  # MAGIC and the fingerprint's checksum, set with ``_suffix_text``


def fingerprint() -> str:
    global _fingerprint
    if _fingerprint is None:
        parts = [pyfast.__version__, sys.version, str(sys.flags.optimize), _prescreen_name()]
        for folder in (_compiler_folder(), os.path.dirname(runtime.__file__)):
            for name in sorted(os.listdir(folder)):
                if name.endswith(".py"):
                    st = os.stat(os.path.join(folder, name))
                    parts.append(f"{name}:{st.st_size}:{st.st_mtime_ns}")
        _fingerprint = "|".join(parts)
    return _fingerprint


_API = "pyfast.compiler.api"


def _prescreen_name() -> str:
    """The prescreen in use: the compiler's own unless a program replaced ``api.prescreen``
    (which imports ``api``: otherwise it is not imported, ~2 ms of every start-up)."""
    api = sys.modules.get(_API)
    if api is None:
        return f"{_API}.prescreen"
    return f"{api.prescreen.__module__}.{api.prescreen.__qualname__}"


def _compiler_folder() -> str:
    """The folder of ``pyfast.compiler``, found as the import system finds it, not imported."""
    module = sys.modules.get("pyfast.compiler")
    if module is not None:
        return os.path.dirname(module.__file__)
    for finder in sys.meta_path:
        find_spec = getattr(finder, "find_spec", None)
        spec = find_spec and find_spec("pyfast.compiler", pyfast.__path__)
        if spec is not None:
            return os.path.dirname(spec.origin)
    raise ImportError("pyfast.compiler not found")


#: A Mersenne prime: ``checksum`` is the bytes read as one number modulo it (a change of any
#: single byte always changes it), computed in C without loading ``zlib``.
_PRIME = (1 << 61) - 1


def checksum(data: bytes) -> int:
    return int.from_bytes(data, "little") % _PRIME


def _suffix() -> str:
    """The part of a cache file name after the module's stem (the same for every module)."""
    global _suffix_text, _key
    if _suffix_text is None:
        opt = f".opt-{sys.flags.optimize}" if sys.flags.optimize else ""
        key = checksum(fingerprint().encode())
        _key = MAGIC + key.to_bytes(8, "little")
        tag = sys.implementation.cache_tag
        _suffix_text = f".{tag}{opt}.pyfast-{pyfast.__version__}-{key:016x}.pyc"
    return _suffix_text


_suffix_text: str | None = None


def path_for(source: str) -> str:
    folder, base = os.path.split(source)
    return folder_of(folder) + (base.rpartition(".")[0] or base) + _suffix()


def folder_of(folder: str) -> str:
    """Where the cache files of the sources in ``folder`` go, ending with a separator
    (remembered per absolute folder: the same for every module of a package)."""
    cache_dir = runtime.settings.cache_dir
    found = _folders.get((folder, cache_dir))
    if found is None:
        absolute = os.path.abspath(folder)
        if cache_dir:
            found = os.path.join(cache_dir, f"{checksum(os.fsencode(absolute)):016x}-")
        else:
            found = os.path.join(absolute, "__pycache__", "")
        if os.path.isabs(folder):  # a relative folder depends on the working directory
            _folders[folder, cache_dir] = found
    return found


_folders: dict[tuple[str, str | None], str] = {}


def header(st: os.stat_result) -> bytes:
    """The first ``HEADER`` bytes of a valid cache file for a source with this ``os.stat``."""
    _suffix()
    mtime = (st.st_mtime_ns & _U64).to_bytes(8, "little")  # two's complement, as signed=True
    return _key + mtime + st.st_size.to_bytes(8, "little")


_U64 = (1 << 64) - 1


def load(path: str, st: os.stat_result) -> tuple | None:
    try:
        with open(path, "rb", 0) as file:  # unbuffered
            data = file.read()
        if data[:HEADER] != header(st):
            return None
        return marshal.loads(memoryview(data)[HEADER:])
    except Exception:  # noqa: BLE001 - missing, corrupt or foreign: recompute
        return None


def store(path: str, st: os.stat_result, payload: tuple) -> None:
    if sys.dont_write_bytecode:
        return
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        data = header(st) + marshal.dumps(payload)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(tmp, "wb") as file:
            file.write(data)
        os.replace(tmp, path)
    except Exception as exc:  # noqa: BLE001 - read-only tree, full disk, ...: run uncached
        runtime.log(f"cannot write cache {path}: {exc!r}")
        try:
            os.unlink(tmp)
        except OSError:
            pass
