"""Disk cache of instrumented code, like ``.pyc`` files but under a pyfast-only name.

In: a source path, its ``os.stat`` result, and the instrumentation result to store.
Out: the stored result when it is still valid, else ``None``.

File: ``__pycache__/<stem>.<cache_tag>[.opt-N].pyfast-<version>-<crc of fingerprint>.pyc``
next to CPython's own ``.pyc`` (never the same name), or ``<cache_dir>/<crc of the
folder>-<stem>...`` with ``--cache-dir``; so runs with different compilers (or prescreens)
keep separate caches.  Layout: 4-byte little-endian header length, a marshaled header
``(MAGIC, fingerprint, source mtime_ns, source size)``, then the marshaled payload.  The
fingerprint names everything that changes the instrumented bytes: pyfast's version, the
Python version and optimisation level, and the size and mtime of every hook and compiler
source file (``prescreen`` decides what gets instrumented).  Writes are atomic (temporary
file + ``os.replace``); a stale, corrupt, unreadable or unwritable cache is ignored.
"""

from __future__ import annotations

import marshal
import os
import sys
import zlib

from pyfast.hook import runtime

import pyfast

MAGIC = "pyfast-cache-1"
_fingerprint: str | None = None


def fingerprint() -> str:
    global _fingerprint
    if _fingerprint is None:
        from pyfast.compiler import api

        parts = [pyfast.__version__, sys.version, str(sys.flags.optimize)]
        prescreen = api.prescreen
        parts.append(f"{prescreen.__module__}.{prescreen.__qualname__}")
        for module in (api, runtime):
            folder = os.path.dirname(module.__file__)
            for name in sorted(os.listdir(folder)):
                if name.endswith(".py"):
                    st = os.stat(os.path.join(folder, name))
                    parts.append(f"{name}:{st.st_size}:{st.st_mtime_ns}")
        _fingerprint = "|".join(parts)
    return _fingerprint


def _suffix() -> str:
    """The part of a cache file name after the module's stem (the same for every module)."""
    global _suffix_text
    if _suffix_text is None:
        opt = f".opt-{sys.flags.optimize}" if sys.flags.optimize else ""
        key = zlib.crc32(fingerprint().encode())
        tag = sys.implementation.cache_tag
        _suffix_text = f".{tag}{opt}.pyfast-{pyfast.__version__}-{key:08x}.pyc"
    return _suffix_text


_suffix_text: str | None = None


def path_for(source: str) -> str:
    folder, base = os.path.split(os.path.abspath(source))
    name = (base.rpartition(".")[0] or base) + _suffix()
    cache_dir = runtime.settings.cache_dir
    if cache_dir:
        return os.path.join(cache_dir, f"{zlib.crc32(os.fsencode(folder)):08x}-{name}")
    return os.path.join(folder, "__pycache__", name)


def load(path: str, st: os.stat_result) -> tuple | None:
    try:
        with open(path, "rb") as file:
            data = file.read()
        size = int.from_bytes(data[:4], "little")
        header = marshal.loads(data[4 : 4 + size])
        if header != (MAGIC, fingerprint(), st.st_mtime_ns, st.st_size):
            return None
        return marshal.loads(data[4 + size :])
    except Exception:  # noqa: BLE001 - missing, corrupt or foreign: recompute
        return None


def store(path: str, st: os.stat_result, payload: tuple) -> None:
    if sys.dont_write_bytecode:
        return
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        header = marshal.dumps((MAGIC, fingerprint(), st.st_mtime_ns, st.st_size))
        data = len(header).to_bytes(4, "little") + header + marshal.dumps(payload)
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
