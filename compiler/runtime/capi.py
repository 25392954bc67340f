"""The C symbols native code may reference: CPython's C API, its data symbols, and libm.

In: an ``llir.Module`` and a symbol name.
Out: the symbol declared in that module (``function``, ``data``), and ``addresses()``, the
process addresses of every symbol in the tables, for ``jit`` to register once per process.

Each table row is the C signature written with LLVM types: ``ptr`` for any pointer,
``i64`` for ``Py_ssize_t``/``long long``/``long``, ``i32`` for ``int``, ``double``.
"""

from __future__ import annotations

import ctypes
import functools
import sys

from pyfast.compiler import llir as ir

_TYPES: dict[str, ir.Type] = {
    "ptr": ir.PointerType(),
    "i64": ir.IntType(64),
    "i32": ir.IntType(32),
    "double": ir.DoubleType(),
    "void": ir.VoidType(),
}

#: C-API function -> (return type, argument types)
CAPI: dict[str, tuple[str, tuple[str, ...]]] = {
    "PyLong_AsLongAndOverflow": ("i64", ("ptr", "ptr")),
    "PyLong_FromLongLong": ("ptr", ("i64",)),
    "PyFloat_FromDouble": ("ptr", ("double",)),
    "PyFloat_AsDouble": ("double", ("ptr",)),
    "PyTuple_New": ("ptr", ("i64",)),
    "PyTuple_SetItem": ("i32", ("ptr", "i64", "ptr")),
    "PyTuple_GetItem": ("ptr", ("ptr", "i64")),
    "PyList_Append": ("i32", ("ptr", "ptr")),
    "PyList_SetItem": ("i32", ("ptr", "i64", "ptr")),
    "PyList_New": ("ptr", ("i64",)),
    "PySequence_Repeat": ("ptr", ("ptr", "i64")),
    "PySequence_Contains": ("i32", ("ptr", "ptr")),
    "PyList_GetSlice": ("ptr", ("ptr", "i64", "i64")),
    "PyList_SetSlice": ("i32", ("ptr", "i64", "i64", "ptr")),
    "PyDict_GetItemWithError": ("ptr", ("ptr", "ptr")),
    "PyErr_Occurred": ("ptr", ()),
    "PyErr_Clear": ("void", ()),
    "PyErr_CheckSignals": ("i32", ()),
    "PyEval_GetGlobals": ("ptr", ()),
    "PyThreadState_Get": ("ptr", ()),
    "PyInterpreterState_Get": ("ptr", ()),
    "PyEval_SaveThread": ("ptr", ()),
    "PyEval_RestoreThread": ("void", ("ptr",)),
    "PyObject_Vectorcall": ("ptr", ("ptr", "ptr", "i64", "ptr")),
    "PyObject_Call": ("ptr", ("ptr", "ptr", "ptr")),
    "PyObject_CallOneArg": ("ptr", ("ptr", "ptr")),
    "PyObject_CallNoArgs": ("ptr", ("ptr",)),
    "PyMem_Malloc": ("ptr", ("i64",)),
    "PyMem_Free": ("void", ("ptr",)),
    "Py_IncRef": ("void", ("ptr",)),
    "Py_DecRef": ("void", ("ptr",)),
}

#: C-API data symbols (objects whose address is the symbol's address).
DATA: tuple[str, ...] = (
    "PyLong_Type",
    "PyFloat_Type",
    "PyBool_Type",
    "PyList_Type",
    "PyTuple_Type",
    "_Py_TrueStruct",
    "_Py_FalseStruct",
    "_Py_NoneStruct",
)

#: numpy objects native code compares with or calls, by symbol -> attribute of ``numpy``.
#: Registered only once numpy is imported (code using them is compiled only then).
NUMPY: dict[str, str] = {
    "pyfast.numpy.ndarray": "ndarray",
    "pyfast.numpy.float64": "float64",
    "pyfast.numpy.float32": "float32",
    "pyfast.numpy.int64": "int64",
    "pyfast.numpy.int32": "int32",
    "pyfast.numpy.bool": "bool_",
    "pyfast.numpy.True": "True_",
    "pyfast.numpy.False": "False_",
}
#: The ``tp_alloc`` of numpy scalar types (``PyArrayScalar_New`` calls it to make a scalar),
#: by symbol -> the type's symbol in ``NUMPY``; registered with them.
NUMPY_ALLOC: dict[str, str] = {
    f"pyfast.numpy.{name}.alloc": f"pyfast.numpy.{name}"
    for name in ("float64", "float32", "int64", "int32")
}
_PY_TP_ALLOC = 47  # the slot number of tp_alloc (Include/typeslots.h)

#: libm function -> (return type, argument types).  Also the targets of LLVM's own libcalls
#: (``frem`` -> fmod, ``llvm.round`` without SSE4.1 -> round, ...).
LIBM: dict[str, tuple[str, tuple[str, ...]]] = {
    **{
        name: ("double", ("double",))
        for name in (
            "sqrt exp exp2 expm1 log log2 log10 log1p sin cos tan asin acos atan sinh cosh"
            " tanh floor ceil trunc round rint nearbyint fabs"
        ).split()
    },
    **{name: ("double", ("double", "double")) for name in "pow fmod atan2 hypot copysign".split()},
    "ldexp": ("double", ("double", "i32")),
}


def _declare(module: ir.Module, name: str, signature: tuple[str, tuple[str, ...]]) -> ir.Function:
    existing = module.globals.get(name)
    if existing is not None:
        return existing
    ret, args = signature
    fnty = ir.FunctionType(_TYPES[ret], [_TYPES[a] for a in args])
    return ir.Function(module, fnty, name)


def function(module: ir.Module, name: str) -> ir.Function:
    """Declare the C-API function ``name`` in ``module`` (idempotent)."""
    return _declare(module, name, CAPI[name])


def numpy_alloc(module: ir.Module, type_symbol: str) -> ir.Function:
    """Declare ``PyObject *tp_alloc(PyTypeObject *, Py_ssize_t)`` of a ``NUMPY`` scalar type."""
    return _declare(module, f"{type_symbol}.alloc", ("ptr", ("ptr", "i64")))


#: libc function -> (return type, argument types): what native code asks of the system.
LIBC: dict[str, tuple[str, tuple[str, ...]]] = {"clock_gettime": ("i32", ("i32", "ptr"))}
CLOCK_MONOTONIC = 1  # Linux


def libc(module: ir.Module, name: str) -> ir.Function:
    """Declare the libc function ``name`` in ``module`` (idempotent)."""
    return _declare(module, name, LIBC[name])


def libm(module: ir.Module, name: str) -> ir.Function:
    """Declare the libm function ``name`` in ``module`` (idempotent).

    Declared ``nobuiltin`` so LLVM keeps the call: its library-call simplifier would otherwise
    rewrite e.g. ``pow(x, 2.0)`` as ``x * x``, whose rounding can differ from the C library's
    that CPython uses.
    """
    fn = _declare(module, name, LIBM[name])
    fn.attributes.add("nobuiltin")
    return fn


def data(module: ir.Module, name: str) -> ir.GlobalVariable:
    """Declare the C-API data symbol ``name``; its value as an ``ir.Value`` is its address."""
    assert name in DATA or name in NUMPY, name
    existing = module.globals.get(name)
    if existing is not None:
        return existing
    var = ir.GlobalVariable(module, ir.IntType(8), name)
    var.linkage = "external"
    var.type = _TYPES["ptr"]  # llvmlite types a global as ``i8*``; LLVM sees an opaque ``ptr``
    return var


#: (major, minor) -> offsetof(PyThreadState, c_profilefunc) on 64-bit builds; ``c_tracefunc``,
#: ``c_profileobj`` and ``c_traceobj`` follow it, 8 bytes apart.  Non-NULL functions mean a
#: profiler or tracer is set on that thread, however it was set (``sys.setprofile`` or
#: ``PyEval_SetProfile``: coverage's C tracer, cProfile on 3.11).
_TRACE_FIELDS: dict[tuple[int, int], int] = {(3, 11): 64, (3, 12): 64, (3, 13): 80}
_INTERP = 16  # offsetof(PyThreadState, interp)
#: (major, minor) -> offsetof(PyThreadState, recursion_remaining) (3.12 on:
#: ``py_recursion_remaining``): how many more Python frames the thread may push before
#: ``RecursionError``; the thread's recursion limit follows it, 4 bytes on.
_RECURSION_FIELDS: dict[tuple[int, int], int] = {(3, 11): 32, (3, 12): 28, (3, 13): 44}


class UnknownLayout(Exception):
    """This interpreter's ``PyThreadState`` is not the one ``_TRACE_FIELDS`` or
    ``_RECURSION_FIELDS`` describes."""


def _thread_state(offsets: dict[tuple[int, int], int]) -> tuple[int, int]:
    """The offset ``offsets`` gives for this Python (on a 64-bit build) and the calling
    thread's ``PyThreadState`` address; ``UnknownLayout`` when there is none."""
    offset = offsets.get(sys.version_info[:2])
    if offset is None or ctypes.sizeof(ctypes.c_void_p) != 8:
        raise UnknownLayout(f"no thread-state layout for {sys.version_info[:2]}")
    ctypes.pythonapi.PyThreadState_Get.restype = ctypes.c_void_p
    return offset, ctypes.pythonapi.PyThreadState_Get()


@functools.cache
def trace_fields() -> int:
    """The offset of the thread state's ``c_profilefunc`` (``c_tracefunc`` is 8 bytes on),
    checked against this process: the ``interp`` field and the profile and trace objects of
    the calling thread must read as the C API and ``sys`` say.  Raises ``UnknownLayout``."""
    offset, state = _thread_state(_TRACE_FIELDS)
    api = ctypes.pythonapi
    api.PyInterpreterState_Get.restype = ctypes.c_void_p

    def field(at: int) -> int:
        return ctypes.c_void_p.from_address(state + at).value or 0

    expected = {
        _INTERP: api.PyInterpreterState_Get(),
        offset + 16: id(sys.getprofile()) if sys.getprofile() is not None else 0,
        offset + 24: id(sys.gettrace()) if sys.gettrace() is not None else 0,
    }
    if any(field(at) != value for at, value in expected.items()):
        raise UnknownLayout("the thread state does not read as expected")
    return offset


@functools.cache
def recursion_field() -> int:
    """The offset of the thread state's count of Python frames left before
    ``RecursionError``, checked against this process: the limit beside it must read as
    ``sys.getrecursionlimit()``, and the count must drop by one in a nested Python call.
    Raises ``UnknownLayout``."""
    offset, state = _thread_state(_RECURSION_FIELDS)

    def remaining() -> int:
        return ctypes.c_int.from_address(state + offset).value

    def nested() -> int:
        return remaining()

    limit = ctypes.c_int.from_address(state + offset + 4).value
    here = remaining()
    if limit != sys.getrecursionlimit() or not 0 < here <= limit or nested() != here - 1:
        raise UnknownLayout("the thread state's recursion count does not read as expected")
    return offset


def _libm() -> ctypes.CDLL:
    """libm: python links it, so its symbols are usually in the process already (looking it up
    with ``ctypes.util.find_library`` runs external tools: 10+ ms)."""
    process = ctypes.CDLL(None)
    if all(hasattr(process, name) for name in LIBM):
        return process
    from ctypes.util import find_library

    return ctypes.CDLL(find_library("m"))


def numpy_addresses() -> dict[str, int]:
    """The ``NUMPY`` symbols -> the addresses of those objects (numpy is imported)."""
    numpy = sys.modules["numpy"]
    addresses = {symbol: id(getattr(numpy, name)) for symbol, name in NUMPY.items()}
    get_slot = ctypes.pythonapi.PyType_GetSlot
    get_slot.restype, get_slot.argtypes = ctypes.c_void_p, (ctypes.py_object, ctypes.c_int)
    for alloc, symbol in NUMPY_ALLOC.items():
        addresses[alloc] = get_slot(getattr(numpy, NUMPY[symbol]), _PY_TP_ALLOC)
    return addresses


def addresses() -> dict[str, int]:
    """Every symbol of the tables -> its address in this process."""
    api = ctypes.pythonapi
    result = {name: ctypes.cast(getattr(api, name), ctypes.c_void_p).value for name in CAPI}
    result.update({name: ctypes.addressof(ctypes.c_void_p.in_dll(api, name)) for name in DATA})
    libm_dll = _libm()
    result.update(
        {name: ctypes.cast(getattr(libm_dll, name), ctypes.c_void_p).value for name in LIBM}
    )
    process = ctypes.CDLL(None)
    result.update(
        {name: ctypes.cast(getattr(process, name), ctypes.c_void_p).value for name in LIBC}
    )
    return result
