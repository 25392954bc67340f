"""What the harness writes: ``results.json``, ``results.md`` and ``speedups.png``.

In: the results record built by ``cli`` (plain JSON data; its shape is documented in
docs/benchmarks.md): ``runtimes`` (name -> label, available, version, reason) and
``workloads`` (each with ``results``: runtime name -> cell).
Out: the three files.  ``render_markdown`` and ``speedup_cell`` are pure; ``write_chart``
returns a message instead of failing when matplotlib is missing.
"""

from __future__ import annotations

import json
from pathlib import Path

#: Cell statuses, as they appear in results.json.
OK, WRONG, FAILED, UNAVAILABLE, NA = "ok", "WRONG", "failed", "unavailable", "n/a"


def write_json(results: dict, out: Path) -> Path:
    path = out / "results.json"
    path.write_text(json.dumps(results, indent=2, sort_keys=False) + "\n")
    return path


def write_markdown(results: dict, out: Path) -> Path:
    path = out / "results.md"
    path.write_text(render_markdown(results))
    return path


def _ratio(x: float) -> str:
    return f"{x:.1f}x" if x >= 10 else f"{x:.2f}x"


def _seconds(x: float) -> str:
    return f"{x:.3f} s" if x < 1 else f"{x:.2f} s"


def _clip(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class _Notes:
    """Numbered footnotes, one per distinct text."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def ref(self, text: str) -> str:
        if text not in self.texts:
            self.texts.append(text)
        return f"[{self.texts.index(text) + 1}]"


def speedup_cell(cell: dict, runtime: str, workload: str, notes: _Notes) -> str:
    """One cell of the speedup table."""
    status = cell["status"]
    if status == OK:
        if runtime == "cpython":
            return _seconds(cell["median_s"])
        mark = ""
        if cell.get("check", "exact") != "exact":
            mark = " " + notes.ref(f"{workload} / {runtime}: output checked on its last line only")
        return _ratio(cell["speedup"]) + mark
    if status == WRONG:
        got = _clip(cell.get("output", ""), 40)
        return "**WRONG** " + notes.ref(f"{workload} / {runtime}: printed `{got}`")
    if status == FAILED:
        return "failed " + notes.ref(
            f"{workload} / {runtime}: {_clip(cell.get('reason', ''), 160)}"
        )
    if status == UNAVAILABLE:
        return "unavailable"
    return "n/a"


def render_markdown(results: dict) -> str:
    runtimes = results["runtimes"]
    names = [n for n in runtimes if n in _used(results)]
    notes = _Notes()
    out = [f"# Benchmark results ({results['mode']})", ""]
    out += _header(results)
    out += ["", "## Speedup over CPython", ""]
    out += [
        "Whole-process wall time, median of "
        f"{results['repeat']} alternating runs; CPython column: its median time; "
        "higher is better. WRONG = printed a different answer (not timed).",
        "",
    ]
    out += _table(
        ["workload", *(runtimes[n]["label"] for n in names)],
        [
            [w["name"], *(speedup_cell(w["results"][n], n, w["name"], notes) for n in names)]
            for w in results["workloads"]
        ],
    )
    out += ["", "## Wall time (median, min–max) and peak RSS", ""]
    out += _table(
        ["workload", *(runtimes[n]["label"] for n in names)],
        [[w["name"], *(_detail(w["results"][n]) for n in names)] for w in results["workloads"]],
    )
    extras = _pyfast_rows(results)
    if extras:
        out += ["", "## pyfast: compilation (from --report-json, median over runs)", ""]
        out += _table(
            [
                "workload",
                "run",
                "functions compiled",
                "native calls",
                "OSR entries",
                "compile ms total",
                "compile ms median / max",
                "first native call ms",
            ],
            extras,
        )
    builds = [
        [w["name"], runtimes[n]["label"], f"{w['results'][n]['build_s']:.1f} s"]
        for w in results["workloads"]
        for n in names
        if w["results"][n].get("build_s") is not None
    ]
    if builds:
        out += ["", "## Build time (cythonize + C compiler, gcc; not in the timings)", ""]
        out += _table(["workload", "runtime", "build"], builds)
    missing = [
        f"- {v['label']}: unavailable — {v['reason']}"
        for v in runtimes.values()
        if not v["available"]
    ]
    if missing or notes.texts:
        out += ["", "## Notes", ""]
        out += missing
        out += [f"{i}. {text}" for i, text in enumerate(notes.texts, 1)]
    out += ["", "Reproduce: `" + results["command"] + "`", ""]
    return "\n".join(out)


def _used(results: dict) -> set[str]:
    return {n for w in results["workloads"] for n in w["results"]}


def _header(results: dict) -> list[str]:
    machine = results["machine"]
    named = {
        v["label"].split(" (")[0]: v["version"]
        for v in results["runtimes"].values()
        if v.get("version")
    }
    versions = ", ".join(f"{label} {version}" for label, version in named.items())
    libraries = ", ".join(f"{k} {v}" for k, v in results.get("libraries", {}).items() if v)
    load, end = machine.get("load_average"), machine.get("load_average_end")
    busy = ""
    if load:
        at_end = f", at end {end[0]:.2f}" if end else ""
        busy = f" (load average at start {load[0]:.2f}{at_end})"
    imports = [
        f"`import {v['label'].split()[0].lower()}` alone {v['import_s']:.2f} s"
        for v in results["runtimes"].values()
        if v.get("import_s") is not None
    ]
    return [
        f"- Date: {results['date']}",
        f"- Machine: {machine['platform']}, {machine['cpu']}, {machine['cores']} cores{busy}",
        f"- Versions: {versions}" + (f"; {libraries}" if libraries else ""),
        f"- Scale: BENCH_SCALE={results['scale']}, {results['repeat']} runs per runtime",
        *(
            [f"- Start-up included in the timings: {', '.join(imports)} (one process)"]
            if imports
            else []
        ),
    ]


def _detail(cell: dict) -> str:
    if cell["status"] != OK:
        return cell["status"]
    mb = cell["peak_rss_kb"] / 1024
    return f"{cell['median_s']:.3f} s ({cell['min_s']:.3f}–{cell['max_s']:.3f}), {mb:.0f} MB"


def _ms(value: object) -> str:
    return "n/a" if value is None else f"{value:.1f}"


def _pyfast_rows(results: dict) -> list[list[str]]:
    rows = []
    for w in results["workloads"]:
        for name in ("pyfast-cold", "pyfast-warm"):
            cell = w["results"].get(name)
            if not cell or cell["status"] != OK:
                continue
            p = cell.get("pyfast")
            if p is None:
                rows.append([w["name"], name, "no report", "", "", "", "", ""])
                continue
            rows.append(
                [
                    w["name"],
                    name,
                    f"{p['functions_compiled']} of {p['functions']}",
                    str(p["native_calls"]),
                    str(p["osr_entries"]),
                    _ms(p["compile_ms_total"]),
                    f"{_ms(p['compile_ms_median'])} / {_ms(p['compile_ms_max'])}",
                    _ms(p["first_native_call_ms"]),
                ]
            )
    return rows


def _table(head: list[str], rows: list[list[str]]) -> list[str]:
    align = ["---"] + ["---:"] * (len(head) - 1)
    return [
        "| " + " | ".join(head) + " |",
        "| " + " | ".join(align) + " |",
        *("| " + " | ".join(row) + " |" for row in rows),
    ]


def write_chart(results: dict, out: Path) -> str:
    """Write ``speedups.png`` (log-scale grouped bars); return what happened, in one line."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed: speedups.png skipped (pip install matplotlib)"
    runtimes = results["runtimes"]
    names = [n for n in runtimes if n != "cpython" and n in _used(results)]
    workloads = results["workloads"]
    width = 0.8 / max(len(names), 1)
    colors = plt.get_cmap("tab10").colors
    fig, ax = plt.subplots(figsize=(max(8, 1.1 * len(workloads) + 2), 5))
    for k, name in enumerate(names):
        xs, ys = [], []
        for i, w in enumerate(workloads):
            cell = w["results"][name]
            x = i + (k - (len(names) - 1) / 2) * width
            if cell["status"] == OK:
                xs.append(x)
                ys.append(cell["speedup"])
            elif cell["status"] in (WRONG, FAILED):
                ax.text(x, 1, cell["status"], rotation=90, ha="center", va="bottom", fontsize=6)
        if xs:  # a runtime with no timed bar (all WRONG or n/a) gets no legend entry either
            ax.bar(xs, ys, width, label=runtimes[name]["label"], color=colors[k % len(colors)])
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_yscale("log")
    ax.set_xticks(range(len(workloads)))
    ax.set_xticklabels([w["name"] for w in workloads], rotation=30, ha="right")
    ax.set_ylabel("speedup over CPython (whole process, log scale)")
    ax.set_title(f"pyfast benchmarks, {results['date']} ({results['mode']})")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = out / "speedups.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return f"wrote {path}"
