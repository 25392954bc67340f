"""Reports: what pyfast saw and decided, per function.

In: ``runtime.modules``: their slot specs, and the profiles of the functions whose probes fired
``runtime.EARLY`` times (a function called fewer times gets a row of its counts, without
signatures).
Out: ``records()``, the JSON contract (one dict per function); ``table()``, the readable
``--report`` text; ``write_at_exit()``, run at exit when a report is asked for (``install``).

JSON: ``{"pyfast": version, "python": "3.11.7", "first_native_call_ms": ms or null,
"functions": [{"module", "qualname", "file", "line", "calls", "loop_iterations", "signatures",
"status", "reason", "native_calls", "compile_ms", "osr_entries", "deopts", "deopt_reasons"}]}``.
``deopts`` counts the calls whose native code resumed the interpreter mid-function
(``deopt_reasons``: ``{"line N: why": count}``).  ``calls`` and
``loop_iterations`` are counted while a function is profiled (they stop growing once it is
decided, so they are lower bounds) plus the calls the native code reports.
``first_native_call_ms``: milliseconds from pyfast's start until the first native entry was in
place (the next call or loop iteration runs it).  A process whose pid differs from
``PYFAST_REPORT_OWNER`` (a child started by the program) writes ``<PATH>.<pid>.json`` instead
of ``PATH``.
"""

from __future__ import annotations

import os
import sys
from _json import encode_basestring_ascii as _string

from pyfast.hook import runtime

import pyfast

TOP = 25

#: A function's record before anything was counted (the JSON contract's fields, in order).
_EMPTY = {
    "calls": 0,
    "loop_iterations": 0,
    "signatures": [],
    "status": "cold",
    "reason": None,
    "native_calls": 0,
    "compile_ms": 0.0,
    "osr_entries": 0,
    "deopts": 0,
    "deopt_reasons": {},
}


def records() -> list[dict]:
    out = []
    for module in runtime.modules:
        for k, spec in enumerate(module.result.slots):
            if spec[0] != "function":
                continue
            profile = module.profiles.get(k)
            if profile is None:  # called fewer than ``runtime.EARLY`` times: only counted
                calls, iterations = runtime.early_counts(module, k)
                row = {"module": module.name, "qualname": spec[1], "file": module.file}
                row |= {"line": spec[2], **_EMPTY, "calls": calls, "loop_iterations": iterations}
                out.append(row)
                continue
            counters = profile.counters()
            native = counters.get("native_calls", 0)
            osr_entries = sum(loop.osr_entries for loop in profile.loops)
            out.append(
                {
                    "module": module.name,
                    "qualname": profile.spec.qualname,
                    "file": module.file,
                    "line": profile.spec.line,
                    "calls": profile.calls + native,
                    "loop_iterations": sum(loop.iterations for loop in profile.loops),
                    "signatures": profile.signatures(),
                    "status": profile.status,
                    "reason": profile.reason,
                    "native_calls": native + osr_entries,
                    "compile_ms": round(profile.compile_ms, 3),
                    "osr_entries": osr_entries,
                    "deopts": sum(profile.deopts.values()),
                    "deopt_reasons": dict(profile.deopts),
                }
            )
    for module in runtime.modules:
        for qualname, line, status, reason in module.result.untouched():
            out.append(
                {
                    "module": module.name,
                    "qualname": qualname,
                    "file": module.file,
                    "line": line,
                    **_EMPTY,
                    "status": status,
                    "reason": reason,
                }
            )
    return out


def document() -> dict:
    version = "{}.{}.{}".format(*sys.version_info[:3])
    return {
        "pyfast": pyfast.__version__,
        "python": version,
        "first_native_call_ms": runtime.first_native_ms,
        "functions": records(),
    }


def table(rows: list[dict] | None = None) -> str:
    rows = records() if rows is None else rows
    rows = sorted(rows, key=lambda r: r["calls"] + r["loop_iterations"], reverse=True)
    head = (
        "function",
        "calls",
        "loop iters",
        "signatures",
        "status",
        "compile ms",
        "deopts",
        "reason",
    )
    lines = [
        [
            f"{r['module']}.{r['qualname']}",
            str(r["calls"]),
            str(r["loop_iterations"]),
            _signatures(r["signatures"]),
            r["status"],
            f"{r['compile_ms']:.1f}" if r["compile_ms"] else "",
            str(r["deopts"]) if r["deopts"] else "",
            r["reason"] or "",
        ]
        for r in rows[:TOP]
    ]
    widths = [max(len(x) for x in column) for column in zip(head, *lines, strict=False)]
    widths[-1] = 0
    fmt = "  ".join(f"{{:{'>' if i in (1, 2, 5, 6) else '<'}{w}}}" for i, w in enumerate(widths))
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    total_ms = sum(r["compile_ms"] for r in rows)
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    out = ["pyfast report (hottest first)", fmt.format(*head).rstrip()]
    out += [fmt.format(*line).rstrip() for line in lines]
    if len(rows) > TOP:
        out.append(f"... {len(rows) - TOP} more")
    out.append(f"{len(rows)} functions: {summary or 'none'}; compiling took {total_ms:.1f} ms")
    return "\n".join(out)


def _signatures(signatures: list[str]) -> str:
    if len(signatures) <= 2:
        return " ".join(signatures)
    return f"{signatures[0]} +{len(signatures) - 1} more"


def json_path(path: str) -> str:
    owner = os.environ.get("PYFAST_REPORT_OWNER")
    pid = os.getpid()
    if owner is not None and owner != str(pid):
        return f"{path}.{pid}.json"
    return path


_JSON_CONSTANTS = {None: "null", True: "true", False: "false"}
_JSON_FLOATS = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


def to_json(value: object, indent: str = "\n") -> str:
    """``json.dumps(value, indent=1)`` of a report (dicts with string keys, lists, strings,
    numbers, booleans, None), the same text without importing ``json``: its decoder imports
    ``re``, ~12 ms of a short program's exit."""
    if value is None or value is True or value is False:
        return _JSON_CONSTANTS[value]
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, float):
        text = float.__repr__(value)
        return _JSON_FLOATS.get(text, text)
    if isinstance(value, int):
        return int.__repr__(value)
    inner = indent + " "
    if isinstance(value, dict):
        items = [f"{_string(k)}: {to_json(v, inner)}" for k, v in value.items()]
        return f"{{{inner}{f',{inner}'.join(items)}{indent}}}" if items else "{}"
    items = [to_json(v, inner) for v in value]
    return f"[{inner}{f',{inner}'.join(items)}{indent}]" if items else "[]"


def write_at_exit() -> None:
    settings = runtime.settings
    try:
        if settings.report:
            print(table(), file=sys.stderr, flush=True)
        if settings.report_json:
            path = json_path(settings.report_json)
            tmp = f"{path}.{os.getpid()}.tmp"
            with open(tmp, "w", encoding="utf-8") as file:
                file.write(to_json(document()) + "\n")
            os.replace(tmp, path)
    except Exception as exc:  # noqa: BLE001 - a report must never change the exit status
        print(f"pyfast: cannot write the report: {exc!r}", file=sys.stderr)
