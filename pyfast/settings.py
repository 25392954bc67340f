"""pyfast's settings: one immutable record shared by the launcher, the hook and the compiler.

In: command-line options (parsed by ``pyfast.launcher``), keyword arguments to
``pyfast.install(**options)``, or the ``PYFAST_*`` environment variables.
Out: a ``Settings`` value, and the environment that hands the same settings to child
Python processes (``Settings.to_env``, ``export``).

Every option has exactly one environment twin, listed in ``ENV``.  ``PYFAST_DISABLE=1`` is the
kill switch and wins over everything else.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # collections.abc costs 3.5 ms of every start-up
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, MutableMapping

DEFAULT_THRESHOLD = 1000


class SettingsError(ValueError):
    """A bad option value; the launcher prints it on one line and exits with status 2."""


_FIELDS: dict[str, object] = {
    "threshold": DEFAULT_THRESHOLD,
    "jit": True,
    "report": False,
    "report_json": None,
    "include": (),
    "exclude": (),
    "cache": True,
    "cache_dir": None,
    "verbose": False,
    "dump": (),
}


class Settings:
    """pyfast's options, immutable: keyword arguments named as the fields of ``_FIELDS``
    (defaults there).  A plain class: ``dataclasses`` would import ``inspect``, 10 ms of every
    start-up."""

    __slots__ = tuple(_FIELDS)
    threshold: int
    jit: bool
    report: bool
    report_json: str | None
    include: tuple[str, ...]
    exclude: tuple[str, ...]
    cache: bool
    cache_dir: str | None
    verbose: bool
    dump: tuple[str, ...]

    def __init__(self, **values: object) -> None:
        unknown = sorted(values.keys() - _FIELDS.keys())
        if unknown:
            raise TypeError(f"Settings() got unexpected keyword argument {unknown[0]!r}")
        for name, default in _FIELDS.items():
            object.__setattr__(self, name, values.get(name, default))
        if isinstance(self.threshold, bool) or not isinstance(self.threshold, int):
            raise SettingsError(f"threshold must be an integer, not {self.threshold!r}")
        if self.threshold < 1:
            raise SettingsError(f"threshold must be at least 1, not {self.threshold}")
        object.__setattr__(self, "include", _globs(self.include))
        object.__setattr__(self, "exclude", _globs(self.exclude))
        object.__setattr__(self, "dump", _globs(self.dump))

    def _values(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in _FIELDS}

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Settings are immutable: use replace({name}=...)")

    def __eq__(self, other: object) -> bool:
        return type(other) is Settings and self._values() == other._values()

    def __hash__(self) -> int:
        return hash(tuple(self._values().values()))

    def __repr__(self) -> str:
        return "Settings(" + ", ".join(f"{k}={v!r}" for k, v in self._values().items()) + ")"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read the ``PYFAST_*`` variables; raise ``SettingsError`` on a malformed value."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for field, (name, kind) in ENV.items():
            raw = env.get(name)
            if raw is None or raw == "":
                continue
            values[field] = _PARSE[kind](name, raw)
        return cls(**values)

    def to_env(self) -> dict[str, str]:
        """The ``PYFAST_*`` variables that reproduce these settings in a child process."""
        env: dict[str, str] = {}
        default = Settings()
        for field, (name, kind) in ENV.items():
            value = getattr(self, field)
            if value == getattr(default, field):
                continue
            env[name] = _FORMAT[kind](value)
        return env

    def replace(self, **changes: object) -> Settings:
        return Settings(**{**self._values(), **changes})


def disabled(environ: Mapping[str, str] | None = None) -> bool:
    """True when the ``PYFAST_DISABLE`` kill switch is set."""
    env = os.environ if environ is None else environ
    return env.get("PYFAST_DISABLE", "") not in ("", "0")


def export(settings: Settings, environ: MutableMapping[str, str]) -> None:
    """Make ``environ`` hand ``settings`` to child processes: ``PYFAST=1`` plus the twins."""
    for name, _kind in ENV.values():
        environ.pop(name, None)
    environ.update(settings.to_env())
    environ["PYFAST"] = "1"


def _globs(value: Iterable[str] | str) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else list(value)
    return tuple(part.strip() for item in items for part in item.split(",") if part.strip())


def _parse_int(name: str, raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer, not {raw!r}") from None


def _parse_bool(name: str, raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name} must be 0 or 1, not {raw!r}")


def _parse_negated_bool(name: str, raw: str) -> bool:
    return not _parse_bool(name, raw)


_PARSE = {
    "int": _parse_int,
    "bool": _parse_bool,
    "not": _parse_negated_bool,
    "str": lambda name, raw: raw,
    "globs": lambda name, raw: _globs(raw),
}

_FORMAT = {
    "int": str,
    "bool": lambda value: "1" if value else "0",
    "not": lambda value: "0" if value else "1",
    "str": str,
    "globs": ",".join,
}

#: field -> (environment variable, kind).  Kind "not" means the variable negates the field
#: (``PYFAST_NO_JIT=1`` is ``jit=False``).
ENV: dict[str, tuple[str, str]] = {
    "threshold": ("PYFAST_THRESHOLD", "int"),
    "jit": ("PYFAST_NO_JIT", "not"),
    "report": ("PYFAST_REPORT", "bool"),
    "report_json": ("PYFAST_REPORT_JSON", "str"),
    "include": ("PYFAST_INCLUDE", "globs"),
    "exclude": ("PYFAST_EXCLUDE", "globs"),
    "cache": ("PYFAST_NO_CACHE", "not"),
    "cache_dir": ("PYFAST_CACHE_DIR", "str"),
    "verbose": ("PYFAST_VERBOSE", "bool"),
    "dump": ("PYFAST_DUMP", "globs"),
}
