"""Record classes for the compiler: ``dataclasses.dataclass`` whose methods are made on first use.

In: a class body of annotated fields, in order (defaults allowed; ``factory(f)`` for a default
made by calling ``f``; fields of record base classes come first), optionally a
``__post_init__``.
Out: ``node`` classes get ``__init__`` (identity equality and hash, as ``dataclass(eq=False,
repr=False)``); ``value`` classes also get field-wise ``__eq__``, ``__hash__`` and ``__repr__``
and refuse attribute assignment (as ``dataclass(frozen=True)``).

Why not ``dataclasses``: it compiles every method of every class when the class is made, six
per frozen class, ~1 ms each class, and the compiler has ~65 classes, imported by every process
that compiles anything.  Here a method is a ``_Lazy`` descriptor until its first use, when its
source is compiled once for its class; a compilation uses a fraction of the classes.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

_FIELDS = "__record_fields__"


class factory:  # noqa: N801 - used like ``dataclasses.field(default_factory=...)``
    """A default made by calling ``make()`` for each instance."""

    def __init__(self, make: Callable[[], object]) -> None:
        self.make = make


class FrozenError(AttributeError):
    """Assignment to an attribute of a ``value`` record."""


def _refuse(self: object, name: str, value: object = None) -> None:
    raise FrozenError(f"cannot assign to field {name!r}")


def _fields(cls: type) -> tuple[str, ...]:
    return getattr(cls, _FIELDS)


def _init(cls: type) -> tuple[str, dict]:
    names = _fields(cls)
    frozen = cls.__setattr__ is _refuse
    env: dict = {"_set": object.__setattr__, "_FACTORY": factory}
    params, body = [], []
    for name in names:
        default = _default(cls, name)
        if default is _MISSING:
            params.append(name)
        else:
            env[f"_d_{name}"] = default
            params.append(f"{name}=_d_{name}")
        value = name
        if isinstance(default, factory):
            value = f"_d_{name}.make() if {name} is _d_{name} else {name}"
        body.append(f"_set(self, {name!r}, {value})" if frozen else f"self.{name} = {value}")
    if hasattr(cls, "__post_init__"):
        body.append("self.__post_init__()")
    text = f"def __init__(self, {', '.join(params)}):\n    " + "\n    ".join(body or ["pass"])
    return text, env


def _eq(cls: type) -> tuple[str, dict]:
    own = "".join(f"self.{n}," for n in _fields(cls))
    other = "".join(f"other.{n}," for n in _fields(cls))
    return (
        "def __eq__(self, other):\n"
        "    if other.__class__ is self.__class__:\n"
        f"        return ({own}) == ({other})\n"
        "    return NotImplemented",
        {},
    )


def _hash(cls: type) -> tuple[str, dict]:
    own = "".join(f"self.{n}," for n in _fields(cls))
    return f"def __hash__(self):\n    return hash(({own}))", {}


def _repr(cls: type) -> tuple[str, dict]:
    parts = ", ".join(f"{n}={{self.{n}!r}}" for n in _fields(cls))
    return f'def __repr__(self):\n    return f"{{self.__class__.__qualname__}}({parts})"', {}


_MAKERS: dict[str, Callable[[type], tuple[str, dict]]] = {
    "__init__": _init,
    "__eq__": _eq,
    "__hash__": _hash,
    "__repr__": _repr,
}
_MISSING = object()


def _default(cls: type, name: str) -> object:
    for klass in cls.__mro__:
        if name in klass.__dict__.get(_FIELDS, ()) and name in klass.__dict__.get(
            "__record_defaults__", {}
        ):
            return klass.__record_defaults__[name]
    return _MISSING


class _Lazy:
    """A record method not compiled yet: the first lookup compiles it (``_MAKERS``) for the
    class it is looked up on and puts it there."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, obj: object, owner: type) -> object:
        text, env = _MAKERS[self.name](owner)
        exec(text, env)  # noqa: S102 - the source is made above from field names
        method = env[self.name]
        method.__qualname__ = f"{owner.__qualname__}.{self.name}"
        setattr(owner, self.name, method)
        return method.__get__(obj, owner)


def _record(cls: type, methods: tuple[str, ...]) -> type:
    own = [n for n in cls.__dict__.get("__annotations__", {})]
    inherited = [n for base in reversed(cls.__mro__[1:]) for n in getattr(base, _FIELDS, ())]
    names = tuple(dict.fromkeys([*inherited, *own]))
    defaults = {n: cls.__dict__[n] for n in own if n in cls.__dict__}
    for name, default in defaults.items():
        if isinstance(default, factory):
            delattr(cls, name)  # as dataclasses: no class attribute for a made default
    setattr(cls, _FIELDS, names)
    cls.__record_defaults__ = defaults
    for method in methods:
        setattr(cls, method, _Lazy(method))
    return cls


def replace(record: object, **changes: object) -> object:
    """A copy of ``record`` with ``changes`` to its fields (``dataclasses.replace``)."""
    cls = type(record)
    return cls(**{name: changes.get(name, getattr(record, name)) for name in _fields(cls)})


def node(cls: type) -> type:
    """A mutable record compared by identity: ``__init__`` only."""
    return _record(cls, ("__init__",))


def value(cls: type) -> type:
    """An immutable record compared by its fields."""
    cls.__setattr__ = cls.__delattr__ = _refuse
    return _record(cls, tuple(_MAKERS))
