"""LLVM through the C functions of llvmlite's library, without ``llvmlite.binding``.

In: the text of an LLVM module.
Out: ``Backend().emit(llvm_ir, keep_ir, level)`` -> (the ELF object for the host CPU, optimised
at ``level`` (0-3, passes and code generation) with the new pass manager, position-independent,
small code model; the optimised IR when ``keep_ir``), as ``llvmlite.binding`` makes it for
``jit``; ``available()`` says whether this llvmlite is one the prototypes below were checked
against.

Why: ``import llvmlite.binding`` imports some sixty Python modules and declares hundreds of
functions (~70–140 ms of Python work in a process's first compilation); loading the library and
the ~20 functions used here takes ~20 ms.  The functions (``LLVMPY_*``) are llvmlite's own C
layer, private to it: their prototypes are copied from llvmlite's ``binding`` package, and
``jit`` uses this module only with the versions in ``VERSIONS`` (``tests/test_machine_code``
checks that both ways make the same bytes); with any other, ``llvmlite.binding``.  Modules are
parsed in a context of their own, so another user of LLVM in the process (numba) never shares
state with pyfast's compilations.
"""

from __future__ import annotations

import ctypes
import os

#: llvmlite versions whose C functions have the prototypes of ``_FUNCTIONS``.
VERSIONS = frozenset({"0.50.0"})

_P, _S, _I = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int
_OUT = ctypes.POINTER(ctypes.c_char_p)  # a string LLVM allocates (``LLVMPY_DisposeString``)

#: function -> (result type, argument types), as llvmlite's ``binding`` declares them.
_FUNCTIONS: dict[str, tuple[object, tuple[object, ...]]] = {
    "LLVMPY_InitializeNativeTarget": (None, ()),
    "LLVMPY_InitializeNativeAsmPrinter": (None, ()),
    "LLVMPY_DisposeString": (None, (_S,)),
    "LLVMPY_GetProcessTriple": (None, (_OUT,)),
    "LLVMPY_GetHostCPUName": (None, (_OUT,)),
    "LLVMPY_GetHostCPUFeatures": (_I, (_OUT,)),
    "LLVMPY_GetTargetFromTriple": (_P, (_S, _OUT)),
    # target, triple, cpu, features, opt level, reloc, code model, printmc, jit, abi name
    "LLVMPY_CreateTargetMachine": (_P, (_P, _S, _S, _S, _I, _S, _S, _I, _I, _S)),
    "LLVMPY_CreateTargetMachineData": (_P, (_P,)),
    "LLVMPY_CopyStringRepOfTargetData": (None, (_P, _OUT)),
    "LLVMPY_DisposeTargetData": (None, (_P,)),
    "LLVMPY_ContextCreate": (_P, ()),
    "LLVMPY_ParseAssembly": (_P, (_P, _S, _OUT)),
    "LLVMPY_SetTarget": (None, (_P, _S)),
    "LLVMPY_SetDataLayout": (None, (_P, _S)),
    "LLVMPY_VerifyModule": (ctypes.c_bool, (_P, _OUT)),
    "LLVMPY_PrintModuleToString": (None, (_P, _OUT)),
    "LLVMPY_DisposeModule": (None, (_P,)),
    "LLVMPY_CreatePipelineTuningOptions": (_P, ()),
    "LLVMPY_DisposePipelineTuningOptions": (None, (_P,)),
    "LLVMPY_CreatePassBuilder": (_P, (_P, _P)),
    "LLVMPY_DisposePassBuilder": (None, (_P,)),
    "LLVMPY_buildPerModuleDefaultPipeline": (_P, (_P, _I)),
    "LLVMPY_RunNewModulePassManager": (None, (_P, _P, _P)),
    "LLVMPY_DisposeNewModulePassManger": (None, (_P,)),
    "LLVMPY_TargetMachineEmitToMemory": (_P, (_P, _P, _I, _OUT)),
    "LLVMPY_GetBufferStart": (_P, (_P,)),
    "LLVMPY_GetBufferSize": (ctypes.c_size_t, (_P,)),
    "LLVMPY_DisposeMemoryBuffer": (None, (_P,)),
}


def available() -> bool:
    import llvmlite

    return llvmlite.__version__ in VERSIONS


def open_library(path: str) -> ctypes.CDLL:
    """``ctypes.CDLL(path)``, loaded outside the GIL: ``CDLL`` holds the GIL while ``dlopen``
    maps and relocates LLVM (~15 ms in which the program's thread stops), a foreign call
    releases it.  libc's ``dlopen`` loads the library first; ``CDLL`` then finds it loaded
    (POSIX only: elsewhere, ``CDLL`` alone)."""
    if os.name != "posix":
        return ctypes.CDLL(path)
    libc = ctypes.CDLL(None)
    libc.dlopen.restype = _P
    libc.dlopen.argtypes = (_S, _I)
    handle = libc.dlopen(os.fsencode(path), os.RTLD_NOW)
    try:
        return ctypes.CDLL(path)
    finally:
        if handle:
            libc.dlclose.argtypes = (_P,)
            libc.dlclose(handle)


class Backend:
    """The library, the host's target machines and a context of pyfast's own; one per process,
    used by one thread at a time (``jit``'s lock)."""

    def __init__(self) -> None:
        import llvmlite

        folder = os.path.join(os.path.dirname(llvmlite.__file__), "binding")
        lib = open_library(os.path.join(folder, "libllvmlite.so"))
        for name, (restype, argtypes) in _FUNCTIONS.items():
            function = getattr(lib, name)
            function.restype, function.argtypes = restype, argtypes
        self.lib = lib
        lib.LLVMPY_InitializeNativeTarget()
        lib.LLVMPY_InitializeNativeAsmPrinter()
        self.triple = self._string(lib.LLVMPY_GetProcessTriple)
        cpu = self._string(lib.LLVMPY_GetHostCPUName)
        features = self._features()
        target = self._checked(lib.LLVMPY_GetTargetFromTriple, self.triple)
        self._machine_args = (target, self.triple, cpu, features)
        self._machines: dict[int, int] = {}
        data = lib.LLVMPY_CreateTargetMachineData(self.machine(3))
        self.layout = self._string(lib.LLVMPY_CopyStringRepOfTargetData, data)
        lib.LLVMPY_DisposeTargetData(data)
        self.context = lib.LLVMPY_ContextCreate()

    def machine(self, level: int) -> int:
        """The host's target machine that generates code at ``level`` (made on first use)."""
        if level not in self._machines:
            target, triple, cpu, features = self._machine_args
            self._machines[level] = self.lib.LLVMPY_CreateTargetMachine(
                target, triple, cpu, features, level, b"pic", b"small", 0, 0, b""
            )
        return self._machines[level]

    def _string(self, function, *args: object) -> bytes:
        """The string ``function`` writes to its last argument (freed after the copy)."""
        out = ctypes.c_char_p()
        function(*args, ctypes.byref(out))
        try:
            return out.value or b""
        finally:
            self.lib.LLVMPY_DisposeString(out)

    def _checked(self, function, *args: object) -> int:
        """``function``'s result; a null one, or a message from LLVM, raises ``RuntimeError``
        (with the module freed, for ``LLVMPY_ParseAssembly``)."""
        message = ctypes.c_char_p()
        result = function(*args, ctypes.byref(message))
        text = message.value
        self.lib.LLVMPY_DisposeString(message)
        if text and function is self.lib.LLVMPY_ParseAssembly and result:
            self.lib.LLVMPY_DisposeModule(result)
        if not result or text:
            raise RuntimeError((text or b"LLVM failed").decode(errors="replace"))
        return result

    def _features(self) -> bytes:
        """The host's features as ``+name,-name`` sorted by name (``FeatureMap.flatten``)."""
        out = ctypes.c_char_p()
        known = self.lib.LLVMPY_GetHostCPUFeatures(ctypes.byref(out))
        text = (out.value or b"").decode()
        self.lib.LLVMPY_DisposeString(out)
        if not known:
            return b""
        flags = {item[1:]: item[0] for item in text.split(",") if item}
        return ",".join(f"{sign}{name}" for name, sign in sorted(flags.items())).encode()

    def emit(self, llvm_ir: str, keep_ir: bool, level: int = 3) -> tuple[bytes, str]:
        """The object of ``llvm_ir`` (verified and optimised at ``level``) and, if ``keep_ir``,
        its optimised IR; raise ``RuntimeError`` for invalid IR."""
        lib, machine = self.lib, self.machine(level)
        module = self._checked(lib.LLVMPY_ParseAssembly, self.context, llvm_ir.encode())
        try:
            lib.LLVMPY_SetTarget(module, self.triple)
            lib.LLVMPY_SetDataLayout(module, self.layout)
            message = ctypes.c_char_p()
            broken = lib.LLVMPY_VerifyModule(module, ctypes.byref(message))
            text = message.value
            lib.LLVMPY_DisposeString(message)
            if broken:
                raise RuntimeError((text or b"invalid module").decode(errors="replace"))
            options = lib.LLVMPY_CreatePipelineTuningOptions()
            builder = lib.LLVMPY_CreatePassBuilder(machine, options)
            passes = lib.LLVMPY_buildPerModuleDefaultPipeline(builder, level)
            lib.LLVMPY_RunNewModulePassManager(passes, module, builder)
            lib.LLVMPY_DisposeNewModulePassManger(passes)
            lib.LLVMPY_DisposePassBuilder(builder)
            lib.LLVMPY_DisposePipelineTuningOptions(options)
            buffer = self._checked(lib.LLVMPY_TargetMachineEmitToMemory, machine, module, 1)
            try:
                start, size = lib.LLVMPY_GetBufferStart(buffer), lib.LLVMPY_GetBufferSize(buffer)
                data = ctypes.string_at(start, size)
            finally:
                lib.LLVMPY_DisposeMemoryBuffer(buffer)
            optimised = self._string(lib.LLVMPY_PrintModuleToString, module) if keep_ir else b""
            return data, optimised.decode()
        finally:
            lib.LLVMPY_DisposeModule(module)
