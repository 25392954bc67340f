"""Disk cache of machine code: the objects LLVM emitted, keyed by their LLVM IR and the host.

In: a cache folder, the text of an LLVM module and (on a miss, after LLVM ran) its object.
Out: ``key(llvm_ir)``, then ``exists(folder, key)``, ``read(folder, key)`` -> the object's
bytes or ``None``, and ``write(folder, key, data)``.

Like ccache for one compiler: the same IR text, compiled by the same ``jit`` (``_compiler``)
for the same CPU and Python, gives the same object, so a later process loads it (``loader``)
without importing ``llvmlite.binding`` or running LLVM.  The host is told by ``/proc/cpuinfo``
(vendor, model and feature flags: what LLVM's host CPU name and features are made of); where
it cannot be read, nothing is cached.  File: ``<folder>/<key>.o`` --
``MAGIC``, the BLAKE2b digest of the object, the object.  Writes are atomic (temporary file +
``os.replace``); a corrupt, unreadable or unwritable cache is a miss, never an error.

The folder also keeps code objects pyfast makes with ``bytecode``, marshaled (``kept_code``):
OSR continuations (``osr.continuation_code``) and deoptimization's resume codes
(``deopt.ResumeCode``); a later process has them without importing ``bytecode``.

Size: like ccache's ``max_size``, the folder is kept under ``MAX_BYTES``.  A hit sets the
file's modification time (its last use); a write that takes the folder past ``MAX_BYTES``
removes the least recently used objects until it is under three quarters of it, and
temporary files a killed process left behind (older than an hour).
"""

from __future__ import annotations

import _thread
import functools
import marshal
import os
import sys
import time
from collections.abc import Callable
from types import CodeType

try:
    from _blake2 import blake2b  # hashlib would load OpenSSL first: 5 ms more per process
except ImportError:  # a Python built without it
    from hashlib import blake2b

MAGIC = b"pyfastmc1"
_DIGEST = 32
MAX_BYTES = 64 * 2**20
_STALE_SECONDS = 3600


@functools.cache
def _compiler() -> bytes:
    """What besides the IR and the host decides the object: pyfast's, llvmlite's and Python's
    versions, and the module that runs LLVM (``jit``: its size and modification time, as in
    the hook's cache fingerprint)."""
    import llvmlite

    import pyfast

    st = os.stat(os.path.join(os.path.dirname(__file__), "jit.py"))
    parts = (
        pyfast.__version__,
        llvmlite.__version__,
        sys.version,
        f"{st.st_size}:{st.st_mtime_ns}",
    )
    return "\0".join(parts).encode()


@functools.cache
def _host() -> bytes | None:
    try:
        with open("/proc/cpuinfo", "rb") as file:
            first = file.read().split(b"\n\n", 1)[0]
    except OSError:
        return None
    fields = (b"vendor_id", b"cpu family", b"model", b"model name", b"stepping", b"flags")
    lines = [line for line in first.splitlines() if line.split(b":", 1)[0].strip() in fields]
    return b"\n".join(lines) if lines else None


def key(llvm_ir: str) -> str | None:
    """The cache key of ``llvm_ir`` on this host (``None``: this host cannot cache)."""
    host = _host()
    if host is None:
        return None
    digest = blake2b(digest_size=_DIGEST)
    for part in (MAGIC, _compiler(), host):
        digest.update(part + b"\0")
    digest.update(llvm_ir.encode())
    return digest.hexdigest()


def kept_code(
    folder: str | None,
    kind: str,
    made_of: tuple,
    sources: tuple[str, ...],
    make: Callable[[], CodeType],
) -> CodeType:
    """The code object of ``kind`` that the modules ``sources`` make of ``made_of``: the one
    kept in ``folder`` by an earlier process, else ``make()``, then kept there.  The key holds
    the sources' sizes and modification times (changed modules make other code) and
    ``made_of`` marshaled with version 2, which writes no references, so the same input gives
    the same key in every process.  Nothing is kept without a folder, when a source has no file
    (a zip install) or when marshal cannot write ``made_of`` (a constant of another type); a
    blob another Python wrote is made again."""
    stored = _code_key(kind, made_of, sources) if folder else None
    data = read(folder, stored) if stored else None
    try:
        code = marshal.loads(data) if data is not None else None
    except (EOFError, ValueError, TypeError):
        code = None
    if isinstance(code, CodeType):
        return code
    code = make()
    if stored:
        write(folder, stored, marshal.dumps(code))
    return code


def _code_key(kind: str, made_of: tuple, sources: tuple[str, ...]) -> str | None:
    try:
        stats = tuple((st.st_size, st.st_mtime_ns) for st in map(os.stat, sources))
        made = marshal.dumps((made_of, stats), 2)
    except (OSError, ValueError):
        return None
    return key(f"{kind}\0" + made.decode("latin-1"))


def default_folder() -> str:
    """``$XDG_CACHE_HOME/pyfast/machine-code`` (``~/.cache`` without it)."""
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(root, "pyfast", "machine-code")


def exists(folder: str, key: str) -> bool:
    return os.path.exists(os.path.join(folder, f"{key}.o"))


def read(folder: str, key: str) -> bytes | None:
    path = os.path.join(folder, f"{key}.o")
    try:
        with open(path, "rb") as file:
            data = file.read()
    except OSError:
        return None
    head = len(MAGIC) + _DIGEST
    if (
        data[: len(MAGIC)] != MAGIC
        or blake2b(data[head:], digest_size=_DIGEST).digest() != data[len(MAGIC) : head]
    ):
        return None
    try:
        os.utime(path)  # its last use, for ``trim``
    except OSError:
        pass  # a folder this process may read but not write: still a hit
    return data[head:]


def write(folder: str, key: str, data: bytes) -> None:
    path = os.path.join(folder, f"{key}.o")
    temporary = f"{path}.{os.getpid()}-{_thread.get_ident()}.tmp"
    try:
        os.makedirs(folder, exist_ok=True)
        with open(temporary, "wb") as file:
            file.write(MAGIC + blake2b(data, digest_size=_DIGEST).digest() + data)
        os.replace(temporary, path)
    except OSError:
        _remove(temporary)
        return
    trim(folder)


def trim(folder: str) -> None:
    """Past ``MAX_BYTES`` of objects in ``folder``, remove the least recently used ones (and
    stale temporary files) until they take three quarters of it.  Another process may trim
    at the same time: whatever it removed first is skipped."""
    objects: list[tuple[float, int, str]] = []
    now = time.time()
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                try:
                    st = entry.stat()
                except OSError:
                    continue
                if entry.name.endswith(".o"):
                    objects.append((st.st_mtime, st.st_size, entry.path))
                elif entry.name.endswith(".tmp") and now - st.st_mtime > _STALE_SECONDS:
                    _remove(entry.path)
    except OSError:
        return
    total = sum(size for _, size, _ in objects)
    if total <= MAX_BYTES:
        return
    for _, size, path in sorted(objects):
        if total <= MAX_BYTES * 3 // 4:
            break
        if _remove(path):
            total -= size


def _remove(path: str) -> bool:
    try:
        os.unlink(path)
    except OSError:
        return False
    return True
