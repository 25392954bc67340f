"""The runtime profiler: slots, per-function counters, compile requests, the tracer guard.

In: instrumented modules announced by the loader (``register``); calls into the profiler
callbacks that the probes find in their ``instrument.Slot`` (``live``).
Out: slot values the probes act on (a profiler callback while cold, a native entry once
compiled, ``None`` when the function is decided and must cost nothing more), requests to
``pyfast.compiler.api.compile_function`` and the per-function records ``report`` prints.

Slot life cycle of a function: a stub (``_first_use``: the first time one of the function's
probes fires, it makes the ``FunctionProfile`` and its loops' ``LoopProfile``, puts their
callbacks in their slots and forwards the call; a function never called costs no profile,
and the report makes its zero row from the slot specs) -> ``on_call`` (counts calls and
argument types) -> when hot,
a compile request (synchronous when the threshold is 1, so tests are deterministic; otherwise
on one background daemon thread, the program never waits) -> the entry of the
``CompiledFunction`` (its fallback is the previous slot value, so guard misses keep being
profiled and up to ``MAX_SIGNATURES`` signatures chain) -> or ``None`` when nothing can be
compiled.  A loop slot counts iterations until the threshold, asks for its function to be
compiled and, at an OSR header, for an entry that finishes the running call natively (the
slot then holds it), and otherwise becomes ``None``.

While a tracer or profiler is active (``sys.settrace``, ``sys.setprofile``, their
all-threads variants, or a ``sys.monitoring`` tool), every live slot is ``None``: native code
is not entered and nothing is counted; the slots come back when the last tracer goes.
"""

from __future__ import annotations

import _thread
import os
import sys
import time
from types import CodeType, FrameType, FunctionType, MappingProxyType, MethodType

from pyfast.hook import instrument

from pyfast.settings import Settings

TYPE_CHECKING = False  # collections.abc and functools cost ~5 ms of every start-up
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

MAX_SIGNATURES = 4
#: Fewer operations than this in a function without loops or native calls: left to the
#: interpreter (``api.prepare_function``'s ``min_work``).  A call through the probe and the
#: native entry costs ~90 ns more than a Python call (3.11): ``a < b`` or ``x * 0.5 + y``
#: ran 1.3-2x slower natively, five float operations ~1.1x faster
#: (docs/overhead.md, "Calls from the interpreter").  ``--threshold 1`` compiles them anyway.
MIN_WORK = 4
MAX_OSR_BAILS = 3  # an OSR entry that missed this often stays off: the interpreter keeps the loop
MAX_DEOPTS = 10  # a function whose native code deoptimized this often runs interpreted
#: A function whose native code bailed this often, on more than a tenth of its native entries,
#: runs interpreted: each bail wasted native work before the interpreter re-ran the call.
MAX_BAILS = 10
#: A probe's uses before its function's profile is made are only counted (``_counts``): making a
#: profile costs ~25k instructions, and most functions a program calls at import are called a
#: few times only.  The profile starts at the ``EARLY``-th call or loop iteration (or at the
#: threshold, if lower), so signatures are recorded from then on.
EARLY = 8


class _Miss:
    """The sentinel a probe's callable returns to say "run the original code".  Pickled (code
    shipped by value to another process) as a plain new object, which nothing there returns."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<pyfast MISS>"

    def __reduce__(self) -> tuple:
        return (object, ())


MISS = _Miss()

settings = Settings()
live: list[instrument.Slot] = []  # what the probes read, by slot number
desired: list = []  # what the slots hold when no tracer is active
functions: list[FunctionProfile] = []
modules: list[ModuleRecord] = []
_owners: list[ModuleRecord] = []  # the module of each slot
_counts = bytearray()  # per slot: its probe's uses before the profile existed (< EARLY)
_suspended = False
threads_tracing: set[int] = set()  # the threads a tracer or profiler may be set on


_started = time.perf_counter()
first_native_ms: float | None = None  # when the first native entry went into a slot


def native_ready(slot: int, entry: object) -> None:
    """Put a native entry (a compiled function's or an OSR entry) into ``slot``."""
    global first_native_ms
    if first_native_ms is None:
        first_native_ms = round((time.perf_counter() - _started) * 1000, 1)
    set_slot(slot, entry)


def log(message: str) -> None:
    """A ``--verbose`` line, stamped with the milliseconds since pyfast started."""
    if settings.verbose:
        stamp = (time.perf_counter() - _started) * 1000
        print(f"pyfast: [{stamp:7.1f} ms] {message}", file=sys.stderr, flush=True)


def matches(name: str, globs: tuple[str, ...]) -> bool:
    """``name`` matches one of ``globs`` (``publish`` imported fnmatch when there are any)."""
    fnmatchcase = sys.modules["fnmatch"].fnmatchcase
    return any(fnmatchcase(name, glob) for glob in globs)


def publish(new_settings: Settings) -> None:
    global settings
    settings = new_settings
    if settings.include or settings.exclude or settings.dump:
        # fnmatch imports re: only when there are globs, and now, before the finder needs it
        # (importing it from inside find_spec would recurse into find_spec).
        import fnmatch  # noqa: F401


def set_slot(index: int, value: object) -> None:
    desired[index] = value
    if not _suspended:
        live[index].value = value


def tracer_found() -> None:
    """Native code found a tracer or profiler set on its thread that ``tracers`` did not see
    being set (``tracers.found``)."""
    from pyfast.hook import tracers

    tracers.found()


#: Told every change of ``suspend``'s state (the hook steps its finder aside).
on_suspend: Callable[[bool], None] | None = None


def suspend(active: bool) -> None:
    """Tracer guard: ``True`` empties every live slot, ``False`` restores them."""
    global _suspended
    if active == _suspended:
        return
    _suspended = active
    for slot, value in zip(live, desired, strict=True):
        slot.value = None if active else value
    if on_suspend is not None:
        on_suspend(active)
    log("tracer active: native code off" if active else "tracer gone: native code back on")


class ModuleRecord:
    """One loaded instance of an instrumented module (``__main__`` included): its slots are
    ``base`` to ``base + len(result.slots) - 1``.  A function's profile (and its loops') is made
    when one of its probes first fires (``callback``); until then its slots hold a stub."""

    __slots__ = (
        "name",
        "_file",
        "result",
        "base",
        "profiles",
        "_original",
        "_originals",
    )

    def __init__(
        self, name: str, file: str, result: instrument.Instrumented, original, base: int
    ) -> None:
        self.name = name
        self._file = file  # absolute or not normalised yet: see ``file``
        self.result = result
        self.base = base
        self.profiles: dict[int, FunctionProfile | LoopProfile] = {}  # by slot - base
        self._original = original  # the un-instrumented code tree, or its marshaled bytes
        self._originals: list[CodeType] | None = None

    @property
    def file(self) -> str:
        """The source's absolute path (normalised when first asked: an absolute path does not
        depend on the working directory, the loader hands a relative one over normalised)."""
        if os.path.isabs(self._file):
            self._file = os.path.normpath(self._file)
        return self._file

    def callback(self, k: int) -> Callable:
        """The profiler callback of slot ``base + k``; the first use of any probe of a function
        makes the function's profile and its loops' and puts their callbacks in the slots
        (``_missed`` inside pyfast: see ``_Inside``)."""
        found = self.profiles.get(k)
        if found is None:
            if _thread.get_ident() in _working:
                return _missed
            with _Inside(), _lock:
                found = self.profiles.get(k) or self._profile(k)
        if type(found) is LoopProfile:
            return found.on_iteration
        return found.on_call

    def _profile(self, k: int) -> FunctionProfile | LoopProfile:
        slots = self.result.slots
        owner = slots[k][4]  # SlotSpec.owner: the function's own index for a function
        profile = FunctionProfile(self, self.result.spec(owner), self.base + owner)
        self.profiles[owner] = profile
        functions.append(profile)
        set_slot(profile.slot, profile.on_call)
        j = owner + 1
        while j < len(slots) and slots[j][0] == "loop" and slots[j][4] == owner:
            loop = LoopProfile(profile, self.base + j, slots[j][5])
            self.profiles[j] = loop
            set_slot(loop.slot, loop.on_iteration)
            j += 1
        if k not in self.profiles:  # not laid out as ``instrument`` does: a loop stands alone
            spec = self.result.spec(k)
            loop = LoopProfile(profile, self.base + k, spec.header)
            self.profiles[k] = loop
            set_slot(loop.slot, loop.on_iteration)
        return self.profiles[k]

    def original(self, index: int) -> CodeType:
        if self._originals is None:
            import marshal

            tree = self._original
            if isinstance(tree, bytes):
                tree = marshal.loads(tree)
            self._originals = instrument.walk(tree)
        return self._originals[index]


def wants_dump(qualname: str) -> bool:
    """Whether ``--dump`` asks for the IR of the function named ``qualname``."""
    return bool(settings.dump) and matches(qualname, settings.dump)


def print_ir(what: str, compiled) -> None:
    """``--dump``: the typed IR and the optimised LLVM IR of ``compiled``, on stderr."""
    print(
        f"pyfast: IR of {what}\n{compiled.ir_text}\npyfast: LLVM IR of {what}\n{compiled.llvm_ir}",
        file=sys.stderr,
        flush=True,
    )


def machine_code_cache() -> str | None:
    """The machine-code cache folder: none with ``--no-cache``, ``<cache_dir>/machine-code``
    with ``--cache-dir``, else the user's (``codecache.default_folder``)."""
    if not settings.cache:
        return None
    if settings.cache_dir:
        return os.path.join(settings.cache_dir, "machine-code")
    from pyfast.compiler.runtime import codecache

    return codecache.default_folder()


def partial(func: Callable, *args: object) -> Callable:
    """``functools.partial``, imported when something gets compiled."""
    import functools

    return functools.partial(func, *args)


def _first_use(slot: int, *args: object) -> object:
    """What a slot holds, bound to its index, until its function's profile exists: counts the
    first uses (``EARLY``), then makes the profile (``ModuleRecord.callback``)."""
    n = _counts[slot] + 1
    if n < EARLY and n < settings.threshold:
        _counts[slot] = n
        return MISS
    module = _owners[slot]
    return module.callback(slot - module.base)(*args)


def early_counts(module: ModuleRecord, k: int) -> tuple[int, int]:
    """The calls and loop iterations counted for function slot ``base + k`` of ``module``
    while it had no profile."""
    slots = module.result.slots
    base = module.base
    loops = sum(_counts[base + j] for j, s in enumerate(slots) if s[0] == "loop" and s[4] == k)
    return _counts[base + k], loops


_FIRST_USE = _first_use.__code__
_NOTHING: Mapping = MappingProxyType({})
_NONE: frozenset = frozenset()
_lock = _thread.allocate_lock()  # held while a profile is made
_working: set[int] = set()  # the threads inside pyfast (``_Inside``)


class _Inside:
    """Marks this thread as inside pyfast for a ``with`` block (making a profile, compiling;
    the compiler thread always is).  Code that runs there and calls an instrumented function
    (an audit hook: reading cached slot specs is an audited ``marshal.loads``, and ctypes
    calls are audited; a finalizer) runs it as under python: its probe neither makes a
    profile nor asks for a compilation, which could wait for a lock this thread holds."""

    __slots__ = ("me", "entered")

    def __enter__(self) -> None:
        self.me = _thread.get_ident()
        self.entered = self.me not in _working
        _working.add(self.me)

    def __exit__(self, *exc: object) -> None:
        if self.entered:
            _working.discard(self.me)


def _caller() -> FrameType:
    """The frame of the instrumented function whose probe called the profiler callback that
    calls this (one more frame up when the call came through ``_first_use``)."""
    frame = sys._getframe(2)
    return frame.f_back if frame.f_code is _FIRST_USE else frame


def original_code(function: FunctionType) -> CodeType:
    """The un-instrumented code of ``function`` (the compiler reads callees through this): found
    through a ``Slot`` placed into that very code object, else the code itself."""
    code = function.__code__
    for const in code.co_consts:
        if type(const) is instrument.Slot and const.code is code:
            module = _owners[const.index]
            return module.original(module.result.spec(const.index - module.base).code_index)
    return code


def register(name: str, file: str, result: instrument.Instrumented, original) -> CodeType:
    """Give a loaded module its slots (stubs until first use); return its code, placed there
    (only the functions' code objects stay alive, through their slots)."""
    base = len(desired)
    module = ModuleRecord(name, file, result, original, base)
    count = result.count
    stubs = list(map(MethodType, [_first_use] * count, range(base, base + count)))
    modules.append(module)
    _owners.extend([module] * count)
    _counts.extend(bytes(count))
    desired.extend(stubs)
    values = [None] * count if _suspended else stubs
    live.extend(map(instrument.Slot, values, range(base, base + count)))
    return result.place(live, base, MISS)


class LoopProfile:
    """One loop probe.  Counts iterations until the threshold, then asks for its function to
    be compiled (for the next calls) and, at an OSR header, for native code of the rest of the
    running call (``pyfast.compiler.osr``): the slot becomes ``enter`` once that is ready."""

    __slots__ = ("owner", "slot", "header", "iterations", "osr_entries", "bails", "ready")

    def __init__(self, owner: FunctionProfile, slot: int, header: int) -> None:
        self.owner = owner
        self.slot = slot
        self.header = header
        self.iterations = _counts[slot]  # counted before the profile existed
        self.osr_entries = 0
        self.bails = 0
        self.ready = False  # an OSR entry is in the slot
        owner.loops = (*owner.loops, self)

    def on_iteration(self, *values: object) -> object:
        self.iterations += 1
        if self.iterations >= settings.threshold and _thread.get_ident() not in _working:
            set_slot(self.slot, None)
            frame = _caller()
            try:
                if self.header >= 0 and settings.jit:
                    with _Inside():
                        self.request(frame, values)
                self.owner.loop_hot = True
            except Exception as exc:  # noqa: BLE001
                _forget(exc)
                self.owner.decide(*_failure(exc))
        return MISS

    def request(self, frame, values: tuple) -> None:
        from pyfast.compiler import api

        if self.owner.osr_requested:
            return  # another header's continuation already runs the rest of the call
        if self.owner.func is None:
            self.owner.func = self.owner.original_function(frame)
        func = self.owner.func
        problem = api.global_problem(func, original_code(func))
        if problem is not None:  # refused before the compiler's front end is imported
            self.no_osr(frame.f_lineno, _reason(problem))
            return
        start = time.perf_counter()
        try:
            prepared = self.prepare(func, values)
        finally:  # the OSR stage's imports included
            self.owner.compile_ms += (time.perf_counter() - start) * 1000
        if prepared is not None:
            job, cached = prepared
            job() if cached or settings.threshold == 1 else background(job)

    def prepare(self, func: FunctionType, values: tuple) -> tuple[Callable[[], None], bool] | None:
        """The front end of this loop's OSR entry: the job that finishes it and whether its
        machine code is in the cache; None when the loop stays interpreted."""
        from pyfast.compiler import osr
        from pyfast.compiler.garbage import Contained

        header = next(h for h in osr.loop_headers(func.__code__) if h.key == self.header)
        signature = osr.signature_of(header, values)
        if signature is None:
            self.no_osr(header.lineno, "not a loop over a range or a list of numbers")
            return None
        log(f"{self.owner.name} line {header.lineno}: compiling an OSR entry")
        cache = machine_code_cache()
        with Contained():
            try:
                prepared = osr.prepare_loop(
                    func,
                    header,
                    signature,
                    fallback=_missed,
                    miss=MISS,
                    deopt=self.owner.on_deopt,
                    sample=osr.entry_args(header, values),
                    code_of=original_code,
                    on_tracer=tracer_found,
                    warm_up=warm_up,
                    cache=cache,
                )
                cached = prepared.load_backend(cache)
            except Exception as exc:  # noqa: BLE001 - Unsupported, OsrUnsupported, a bug
                _forget(exc)
                self.no_osr(header.lineno, _reason(exc))
                return None
        self.owner.osr_requested = True
        return partial(self.finish, header, prepared), cached

    def no_osr(self, lineno: int, reason: str) -> None:
        """The loop stays interpreted; the report says why unless the function says more."""
        log(f"no OSR into {self.owner.name} line {lineno}: {reason}")
        if self.owner.status == "cold" and self.owner.reason is None:
            self.owner.reason = f"no OSR entry at line {lineno}: {reason}"

    def finish(self, header, prepared) -> None:
        from pyfast.compiler import osr

        start = time.perf_counter()
        what = f"OSR entry for {self.owner.name} line {header.lineno}"
        dump = wants_dump(self.owner.spec.qualname)
        try:
            compiled = prepared.finish(cache=machine_code_cache(), keep_ir=dump)
        except Exception as exc:  # noqa: BLE001 - a compiler bug: the loop stays interpreted
            _forget(exc)
            self.no_osr(header.lineno, f"compiler error: {exc!r}")
            return
        finally:
            self.owner.compile_ms += (time.perf_counter() - start) * 1000
        log(f"{what} ready{_origin(compiled)}")
        if dump:
            print_ir(what, compiled)
        namespace = self.owner.func.__globals__

        def enter(*values: object) -> object:
            if sys._getframe(1).f_globals is not namespace:
                return MISS  # another function with this code: its own globals, not these
            if sys.gettrace() is not None or sys.getprofile() is not None:
                tracer_found()  # set through the C API: the native entry would miss too
                return MISS
            try:
                args = osr.entry_args(header, values)
            except Exception as exc:  # noqa: BLE001 - the interpreter continues the loop
                _forget(exc)
                log(f"OSR entry of {self.owner.name} raised {exc!r}")
                args = None
            # The native code's own exceptions are the user's (raised after a deoptimization,
            # or KeyboardInterrupt): they propagate from the loop, as in the interpreter.
            result = MISS if args is None else compiled.entry(*args)
            if result is MISS:
                self.bails += 1
                if self.bails >= MAX_OSR_BAILS:
                    self.ready = False
                    set_slot(self.slot, None)
            else:
                self.osr_entries += 1
            return result

        self.owner.osr_compiled = (*self.owner.osr_compiled, compiled)
        self.ready = True
        if self.owner.status != "compiled":
            self.owner.status, self.owner.reason = (
                "compiled",
                f"OSR entry only: {self.owner.reason or 'not called again'}",
            )
        native_ready(self.slot, enter)


def _missed(*args: object) -> object:
    return MISS


def _origin(compiled) -> str:
    return " (machine code from the cache)" if compiled.cached else ""


def _reason(exc: BaseException) -> str:
    return instrument._reason_of(exc) if hasattr(exc, "reason") else repr(exc)


class FunctionProfile:
    __slots__ = (
        "module",
        "spec",
        "slot",
        "calls",
        "loop_hot",
        "sigs",
        "details",
        "detailed",
        "loops",
        "requested",
        "entries",
        "status",
        "reason",
        "compile_ms",
        "func",
        "live",
        "osr_compiled",
        "osr_requested",
        "deopts",
        "bails",
    )

    def __init__(self, module: ModuleRecord, spec: instrument.SlotSpec, slot: int) -> None:
        self.module = module
        self.spec = spec
        self.slot = slot
        self.calls = _counts[slot]  # counted before the profile existed
        self.loop_hot = False  # a loop passed the threshold: compile at the next call
        self.sigs: dict[tuple[type, ...], int] = {}
        # Made at import for every function called then: what most never need is shared and
        # empty until written (a new tuple, set or dict replaces it).
        self.details: Mapping[tuple, int] = _NOTHING  # ``_detail`` of each argument -> calls
        self.detailed: frozenset[tuple[type, ...]] = _NONE
        self.loops: tuple[LoopProfile, ...] = ()
        self.requested: tuple[tuple[type, ...], ...] = ()
        self.entries: tuple = ()
        self.status = "cold"
        self.reason: str | None = None
        self.compile_ms = 0.0
        self.func: FunctionType | None = None
        self.live: FunctionType | None = None  # the program's function object, once found
        self.osr_compiled: tuple = ()  # keeps the OSR entries' native code alive
        self.osr_requested = False  # one loop header's continuation is enough
        self.deopts: Mapping[str, int] = _NOTHING  # reason -> how often native code resumed there
        self.bails = 0

    def on_bail(self) -> None:
        """Native code of this function bailed (the interpreter re-runs the call)."""
        self.bails += 1
        if self.bails >= MAX_BAILS and self.bails * 10 > self.counters()["native_calls"]:
            self.interpret(f"left interpreted: native code bailed out of {self.bails} calls")

    def interpret(self, reason: str) -> None:
        """Calls run interpreted from now on (the native code stays, unused)."""
        self.reason = reason
        log(f"{self.name}: {reason}")
        set_slot(self.slot, None)

    def on_deopt(self, reason: str) -> None:
        """Native code of this function (or of its loops) deoptimized: past ``MAX_DEOPTS`` the
        function runs interpreted (the rest of this call resumes in the interpreter anyway)."""
        self.deopts = {**self.deopts, reason: self.deopts.get(reason, 0) + 1}
        total = sum(self.deopts.values())
        log(f"{self.name} deoptimized ({reason})")
        if total == MAX_DEOPTS:
            self.interpret(f"left interpreted after {total} deoptimizations")
            for loop in self.loops:
                loop.ready = False
                set_slot(loop.slot, None)

    @property
    def name(self) -> str:
        return f"{self.module.name}.{self.spec.qualname}"

    def on_call(self, *args: object) -> object:
        self.calls += 1
        if len(args) == 1:  # the usual arities without ``map``: a probe then costs ~half
            key = (type(args[0]),)
        elif len(args) == 2:
            key = (type(args[0]), type(args[1]))
        else:
            key = tuple(map(type, args))
        sigs = self.sigs
        n = sigs.get(key, 0) + 1
        sigs[key] = n
        if n == 1 and _needs_detail(key):
            self.detailed = self.detailed | {key}
        if self.detailed and key in self.detailed:
            detail = tuple(map(_detail, args))
            details = self.details if type(self.details) is dict else {}
            details[detail] = details.get(detail, 0) + 1
            self.details = details
        threshold = settings.threshold
        if (
            (self.calls >= threshold or self.loop_hot)
            and (n >= threshold or not self.requested)
            and _thread.get_ident() not in _working
        ):
            try:
                if not self.requested:
                    key = max(self.sigs, key=self.sigs.__getitem__)
                if key not in self.requested:
                    with _Inside():
                        self.hot(key, _caller(), args)
            except Exception as exc:  # noqa: BLE001
                _forget(exc)
                self.decide(*_failure(exc))
        return MISS

    def hot(self, key: tuple[type, ...], frame, sample: tuple) -> None:
        if not settings.jit:
            self.decide("cold", _jit_off)
            return
        if len(self.requested) >= MAX_SIGNATURES:
            if not self.entries:
                self.decide("unsupported", f"more than {MAX_SIGNATURES} argument-type signatures")
            return
        self.requested = (*self.requested, key)
        if self.func is None:
            self.func = self.original_function(frame)
        log(f"{self.name} is hot: compiling for {signature_text(key)}")
        from pyfast.compiler import api
        from pyfast.compiler.garbage import Contained

        fallback = desired[self.slot] or self.on_call
        start = time.perf_counter()
        with Contained():
            try:
                prepared = api.prepare_function(
                    self.func,
                    key,
                    fallback=fallback,
                    miss=MISS,
                    code_of=original_code,
                    deopt=self.on_deopt,
                    sample=tuple(sample),
                    on_bail=self.on_bail,
                    from_probe=True,
                    on_tracer=tracer_found,
                    warm_up=warm_up,
                    min_work=MIN_WORK if settings.threshold > 1 else 0,
                )
                cached = prepared.load_backend(machine_code_cache())
            except api.Unsupported as exc:
                _forget(exc)
                self.reject("unsupported", instrument._reason_of(exc))
                return
            except Exception as exc:  # noqa: BLE001 - a compiler bug: the function stays as is
                _forget(exc)
                self.reject("failed", f"compiler error: {exc!r}")
                return
            finally:
                self.compile_ms += (time.perf_counter() - start) * 1000
        if cached or settings.threshold == 1:
            self.install(key, prepared)  # in the cache: loading takes less than a thread switch
            return
        if not self.entries:
            self.reason = "compiling in background"
            set_slot(self.slot, None)  # calls run at python's speed until native code is in
        background(partial(self.install, key, prepared))

    def original_function(self, frame) -> FunctionType:
        """A function object like the live one, with the original code (the compiler's input)."""
        live_fn = find_function(frame.f_code, frame.f_globals)
        self.live = live_fn
        code = self.module.original(self.spec.code_index)
        func = FunctionType(code, live_fn.__globals__, live_fn.__name__, live_fn.__defaults__)
        func.__kwdefaults__ = live_fn.__kwdefaults__
        func.__qualname__ = live_fn.__qualname__
        return func

    def install(self, key: tuple[type, ...], prepared) -> None:
        """Finish the compilation (LLVM) and put the native entry in the function's slot."""
        start = time.perf_counter()
        dump = wants_dump(self.spec.qualname)
        try:
            compiled = prepared.finish(cache=machine_code_cache(), keep_ir=dump)
        except Exception as exc:  # noqa: BLE001 - a compiler bug leaves the function interpreted
            _forget(exc)
            self.reject("failed", f"compiler error: {exc!r}")
            return
        finally:
            self.compile_ms += (time.perf_counter() - start) * 1000
        self.entries = (*self.entries, compiled)
        self.status, self.reason = "compiled", None
        native_ready(self.slot, compiled.entry)
        took = f"{self.compile_ms:.1f} ms{_origin(compiled)}"
        log(f"compiled {self.name}{signature_text(key)} in {took}")
        if dump:
            print_ir(f"{self.name}{signature_text(key)}", compiled)

    def reject(self, status: str, reason: str) -> None:
        if self.entries:
            self.reason = reason
            log(f"{self.name}: another signature not compiled: {reason}")
        else:
            self.decide(status, reason)

    def decide(self, status: str, reason: str) -> None:
        """Nothing will be compiled: record why and make every probe of it cost nothing."""
        self.status, self.reason = status, reason
        log(f"not compiling {self.name}: {reason}")
        if not self.entries:
            set_slot(self.slot, None)
            if self.live is not None and self.func is not None and not self.osr_compiled:
                self.live.__code__ = self.func.__code__  # later calls skip the probes entirely
        for loop in self.loops:
            if not loop.ready:
                set_slot(loop.slot, None)

    def counters(self) -> dict[str, int]:
        total: dict[str, int] = {"native_calls": 0, "bailouts": 0}
        for compiled in self.entries:
            try:
                for name, value in compiled.counters().items():
                    total[name] = total.get(name, 0) + value
            except Exception:  # noqa: BLE001
                pass
        return total

    def signatures(self) -> list[str]:
        counts = {signature_text(k): n for k, n in self.sigs.items() if k not in self.detailed}
        for detail, n in self.details.items():
            text = _detail_text(detail)
            counts[text] = counts.get(text, 0) + n
        return sorted(counts, key=counts.__getitem__, reverse=True)


class FunctionNotFound(LookupError):
    """No function object runs this code: the compiler needs one (its globals, defaults)."""


def _forget(exc: BaseException) -> None:
    """Drop the tracebacks of a caught ``exc`` and of the exceptions it chains.  A frame in a
    traceback that holds its own exception (``raise problem``) makes a reference cycle, which
    would keep the program's frames above the probe, and their locals, alive until the next
    collection (CPython's test_gc.test_frame counted them)."""
    todo = [exc]
    while todo:
        item = todo.pop()
        if item is not None and item.__traceback__ is not None:
            item.__traceback__ = None
            todo += (item.__cause__, item.__context__)


def _failure(exc: Exception) -> tuple[str, str]:
    """The status and reason of a function whose profiling or compile request raised."""
    if isinstance(exc, FunctionNotFound):
        return "unsupported", str(exc)
    return "failed", f"hook error: {exc!r}"


def find_function(code: CodeType, namespace: dict) -> FunctionType:
    def match(value: object) -> bool:
        return isinstance(value, FunctionType) and value.__code__ is code

    for value in list(namespace.values()):
        if match(value):
            return value
        if isinstance(value, type):
            for member in list(vars(value).values()):
                member = getattr(member, "__func__", member)
                if match(member):
                    return member
    import gc

    for value in gc.get_referrers(code):
        if match(value):
            return value
    raise FunctionNotFound(
        "no function object was reachable when it got hot (a finalizer run by the garbage"
        " collector, whose class was garbage too?)"
    )


_DESCRIBED = {list, tuple}


def _needs_detail(key: tuple[type, ...]) -> bool:
    for t in key:
        if t in _DESCRIBED or t.__name__ == "ndarray":
            return True
    return False


def _detail(value: object) -> object:
    """What the report's signature needs of an argument, cheap to take on every profiled call:
    its type, or a tuple of its type and those of a list's or tuple's sampled items (or of an
    array's dtype and dimensions); ``_detail_text`` makes the text."""
    kind = type(value)
    if kind in _DESCRIBED:
        sample = value if len(value) <= 8 else (*value[:4], *value[-4:])
        return (kind, *map(type, sample))
    if kind.__name__ == "ndarray" and hasattr(value, "dtype"):
        return kind, value.dtype, value.ndim
    return kind


def _detail_one_text(detail: object) -> str:
    if type(detail) is not tuple:
        return detail.__name__
    kind = detail[0]
    if kind not in _DESCRIBED:
        return f"ndarray[{detail[1]}, {detail[2]}d]"
    names = sorted({t.__name__ for t in detail[1:]})
    return f"{kind.__name__}[{' | '.join(names) or 'empty'}]"


def _detail_text(detail: tuple) -> str:
    return "(" + ", ".join(map(_detail_one_text, detail)) + ")"


def describe(args: tuple) -> str:
    return _detail_text(tuple(map(_detail, args)))


def signature_text(key: tuple[type, ...]) -> str:
    return "(" + ", ".join(t.__name__ for t in key) + ")"


def warm_up() -> None:
    """Before the process's first front end: its compiler thread compiles the helpers of
    native code meanwhile (``jit.compile_helpers``: LLVM's start and ~15 ms of LLVM outside
    the GIL on a cold cache), instead of after it.  ``jit`` is imported here, by the program's
    thread: the compiler thread lowers the switch interval while it works, and ``threads``
    reads it at import (``RELEASE_NS``); the helpers' IR is made here too (``helpers_ir``),
    inside the caller's ``garbage.Contained`` block."""
    global _warming
    if not _warming:
        _warming = True
        from pyfast.compiler.runtime import jit

        jit.helpers_ir()
        background(partial(jit.compile_helpers, machine_code_cache()))


_warming = False


def background(job: Callable[[], None]) -> None:
    """Run ``job`` on the compiler thread; the program never waits.  The thread lives while
    it has jobs (the next job starts another), and is a bare ``_thread`` thread: between
    compilations, ``threading.enumerate()``, the thread counts and ``threading.settrace``
    are python's."""
    global _hooked
    if not _hooked:  # once per process: a forked child inherits them
        import atexit

        atexit.register(_stop)
        os.register_at_fork(after_in_child=_forked)
        _hooked = True
    with _state:
        _jobs.append(job)
        _start()


def _start() -> None:
    """Start the compiler thread unless it runs (``_state`` held)."""
    if not _running.locked():
        _running.acquire()  # released by the thread when it ends
        try:
            _thread.start_new_thread(_work, ())
        except RuntimeError:  # no thread: the jobs wait for the next start
            _running.release()
            raise


_jobs: list[Callable[[], None]] = []  # waiting for the compiler thread, oldest first
#: Guards ``_jobs`` and the thread's start and end; reentrant: starting the thread is an
#: audited event, whose hook may call an instrumented function that asks for a compilation.
_state = _thread.RLock()
_running = _thread.allocate_lock()  # held while the compiler thread lives
_hooked = False


def _forked() -> None:
    """In a child forked from a process with a compiler thread, which the child does not
    have: a thread of its own runs the jobs still waiting.  If the parent's thread was
    running a job, the locks that job held (pyfast's, LLVM's) stay held in the child, so the
    child compiles nothing: a compilation there could wait forever."""
    global _state, _running, _busy, _jit_off, settings
    _state, _running = _thread.RLock(), _thread.allocate_lock()
    _working.intersection_update({_thread.get_ident()})  # the parent's other threads are gone
    if _busy:
        _busy = False
        _jobs.clear()
        sys.setswitchinterval(_program_interval)
        settings = settings.replace(jit=False)
        _jit_off = "not compiled in a process forked while pyfast was compiling"
        log(_jit_off)
    elif _jobs:
        try:
            _start()
        except RuntimeError as exc:  # the waiting compilations stay undone, never an error
            log(f"no compiler thread in the forked child: {exc!r}")


_jit_off = "jit disabled (--no-jit)"  # why nothing compiles when ``settings.jit`` is false


def _stop() -> None:
    """At exit: drop the waiting jobs and wait for the one running (a thread still inside
    LLVM while the process runs its C++ static destructors crashes it); no thread starts
    after."""
    with _state:
        _jobs.clear()
    _running.acquire()


#: GIL switch interval while the compiler thread works.  Each of llvmlite's many ctypes calls
#: releases the GIL, and getting it back from a busy main thread takes a whole switch interval
#: (5 ms by default): a 30 ms compile then takes about a second.
COMPILE_SWITCH_INTERVAL = 0.0002


def _work() -> None:
    """The compiler thread: run the jobs, then end."""
    global _busy, _program_interval
    _program_interval = sys.getswitchinterval()
    sys.setswitchinterval(min(_program_interval, COMPILE_SWITCH_INTERVAL))
    _working.add(_thread.get_ident())
    while True:
        with _state:
            if not _jobs:
                sys.setswitchinterval(_program_interval)
                _working.discard(_thread.get_ident())
                _running.release()
                return
            job = _jobs.pop(0)
            _busy = True
        try:
            job()
        except Exception as exc:  # noqa: BLE001
            _forget(exc)
            log(f"compiler thread: {exc!r}")
        finally:
            _busy = False


_busy = False  # the compiler thread runs a job
_program_interval = 0.005  # the program's switch interval, restored when the thread ends
