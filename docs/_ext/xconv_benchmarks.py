"""Sphinx extension: the benchmarks page and the accuracy tables, from ``benchmarks/``.

At ``builder-inited`` it writes, into ``docs/_generated/`` (included by the pages, never
pages of their own):

- ``benchmark-results.md`` — every report of ``benchmarks/results/`` under a heading in
  words: the CPU speed summary and its chart first, then each report with its charts
  beside its tables. The speed chart is drawn again from ``results.json`` as one row
  of bars per group of cases, so that it stays legible at the page's width (the
  benchmark's own ``results.png`` puts all cases on one 2520-pixel-wide axis).
  Reports this module does not know are appended under their own titles.
- ``benchmark-method.md`` — ``benchmarks/README.md`` (how the suite runs and measures),
  its headings one level down.
- ``accuracy.md`` — ``benchmarks/results/accuracy.md`` with each "max / median" table
  split into a table of maxima and one of medians, so no cell wraps.

Only the layout changes: every number is copied as the reports print it.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx

import xconv

DOCS = Path(__file__).resolve().parent.parent
BENCH = DOCS.parent / "benchmarks"
RESULTS = BENCH / "results"
GENERATED = DOCS / "_generated"

#: report file -> (heading on the page, anchor); in this order, after the speed summary
TITLES = {
    "crossover.md": "Where `auto` switches methods",
    "dense_rules.md": "Dense-layer rules of `auto`",
    "dask_ooc.md": "Out-of-core convolution on Dask",
    "gpu.md": "GPU benchmark",
}
#: the charts of ``crossover.md``: the first word of a threshold row -> its chart
CROSSOVER_CHARTS = {
    "single-channel 1024²": "crossover-kernel.png",
    "dense 3x3, 4x64²": "crossover-channels.png",
    "depthwise 3x3": "crossover-depthwise.png",
    "dense 3x3, Bx28²": "scaling.png",
    "single-channel 5x5": "scaling.png",
}
#: label on the page for a candidate key of ``results.json``
LABELS = {"seed loop": "naive loop"}


def _sections(text: str, level: int) -> tuple[str, list[tuple[str, str]]]:
    """Split Markdown at headings of ``level``: (text before, [(title, body), ...])."""
    mark = "#" * level + " "
    head: list[str] = []
    parts: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        if line.startswith(mark):
            parts.append((line[len(mark) :].strip(), []))
        elif parts:
            parts[-1][1].append(line)
        else:
            head.append(line)
    return "\n".join(head), [(t, "\n".join(b).strip()) for t, b in parts]


def _shift(text: str, levels: int) -> str:
    """Move every Markdown heading ``levels`` deeper (code fences are left alone)."""
    out, fence = [], False
    for line in text.splitlines():
        if line.startswith("```"):
            fence = not fence
        if not fence and re.match(r"#+ ", line):
            line = "#" * levels + line
        out.append(line)
    return "\n".join(out)


def _words(text: str) -> str:
    """The reports' candidate labels as the page names them."""
    for old, new in LABELS.items():
        text = text.replace(f"| {old} |", f"| {new} |")
    return text


def _image(name: str, alt: str, caption: str = "", width: str = "100%") -> str:
    """A MyST figure of ``_generated/name``; scaled, it links to the full-size image."""
    lines = [f"```{{figure}} /_generated/{name}", f":width: {width}", f":alt: {alt}", ""]
    return "\n".join([*lines, caption, "```", ""])


# --- the speed chart ----------------------------------------------------------------------


def _plot_speed(results: dict[str, Any], path: Path) -> bool:
    """The benchmark suite's speed chart, with older reports' labels renamed."""
    from xconv._bench.suite import plot_ratios

    def label(key: str) -> str:
        return LABELS.get(key, key)

    cases = [
        {
            **c,
            "baseline": label(c["baseline"]),
            "candidates": [{**r, "key": label(r["key"])} for r in c["candidates"]],
        }
        for c in results["cases"]
    ]
    return bool(plot_ratios({**results, "cases": cases}, path))


# --- the reports ----------------------------------------------------------------------------


def _speed(text: str) -> str:
    """``results.md``: chart and summary first, then the machine, then each case."""
    head, sections = _sections(text, 2)
    head_lines = [ln for ln in head.splitlines() if ln and not ln.startswith("# ")]
    machine, details = head_lines[:1], head_lines[1:]
    out = ["## Speed beside TensorFlow, PyTorch, JAX and SciPy", "", *machine, ""]
    chart = None
    results_json = RESULTS / "results.json"
    if results_json.is_file():
        results = json.loads(results_json.read_text())
        if _plot_speed(results, GENERATED / "speed.png"):
            chart = "speed.png"
    if chart is None and (RESULTS / "results.png").is_file():
        shutil.copy(RESULTS / "results.png", GENERATED / "results.png")
        chart = "results.png"
    if chart:
        out.append(
            _image(
                chart,
                "bar chart of each candidate's speed as a multiple of TensorFlow's, per case",
                "Every candidate of every case (tables below), as a multiple of TensorFlow's "
                "speed; `auto` bars are outlined, dashes mark the targets set for xconv's "
                "`auto`. Click the chart for the full-size image.",
            )
        )
    for title, body in sections:
        if title == "Summary":
            out += ["### Summary", "", _words(body), ""]
    out += ["### Machine and protocol", "", *(ln + "\n" for ln in details), ""]
    out += ["### Each case", ""]
    for title, body in sections:
        if title != "Summary":
            name, _, words = title.partition(": ")
            out += [f"#### {words or name} (`{name}`)", "", _words(body), ""]
    return "\n".join(out)


def _crossover(text: str, title: str) -> str:
    """``crossover.md``: each sweep's rows with its chart under them."""
    lines = text.splitlines()
    intro = [ln for ln in lines if ln and not ln.startswith(("#", "|"))]
    rows = [ln for ln in lines if ln.startswith("|")]
    header, rows = rows[:2], rows[2:]
    groups: dict[str, list[str]] = {}
    for row in rows:
        chart = next((png for k, png in CROSSOVER_CHARTS.items() if row[2:].startswith(k)), "")
        groups.setdefault(chart, []).append(row)
    out = [f"## {title}", "", *intro, ""]
    for chart, group in groups.items():
        out += [*header, *group, ""]
        if chart and (RESULTS / chart).is_file():
            shutil.copy(RESULTS / chart, GENERATED / chart)
            width = "100%" if chart == "scaling.png" else "70%"
            out.append(_image(chart, chart.removesuffix(".png").replace("-", " "), "", width))
    return "\n".join(out)


def _gpu(texts: list[tuple[str, str]]) -> str:
    """``gpu*.md``: one section, each run a subsection named by its first line."""
    first = texts[0][1].splitlines()[0].removeprefix("# ")
    device = first.partition(": ")[2]
    out = [f"## GPU benchmark{f' ({device})' if device else ''}", ""]
    for name, text in texts:
        body = "\n".join(text.splitlines()[1:]).strip()
        kind = "Full run" if name == "gpu.md" else f"Later run (`{name}`)"
        if body.startswith("Subset re-run"):
            kind = "Subset re-run"
        out += [f"### {kind}", "", body, ""]
    return "\n".join(out)


def _titled(text: str, title: str) -> str:
    """A report under ``title``, its own headings one level down."""
    body = "\n".join(ln for ln in text.splitlines() if not ln.startswith("# "))
    return f"## {title}\n\n{_shift(body.strip(), 1)}\n"


def write_benchmark_results() -> str:
    if not RESULTS.is_dir() or not any(RESULTS.glob("*.md")):
        return (
            "```{note}\nNo benchmark results are in this checkout: `benchmarks/results/` "
            "is missing or empty, so there are no tables or charts to show. Run "
            "`nox -s bench` (or `python -m xconv bench --out benchmarks/results`) and "
            "rebuild the docs.\n```\n"
        )
    reports = {p.name: p.read_text() for p in sorted(RESULTS.glob("*.md"))}
    parts = []
    if "results.md" in reports:
        parts.append(_speed(reports.pop("results.md")))
    gpu = [(n, reports.pop(n)) for n in sorted(reports, key=len) if n.startswith("gpu")]
    for name, title in TITLES.items():
        if name == "gpu.md" and gpu:
            parts.append(_gpu(gpu))
        elif name == "crossover.md" and name in reports:
            parts.append(_crossover(reports.pop(name), title))
        elif name in reports:
            parts.append(_titled(reports.pop(name), title))
    if reports.pop("accuracy.md", None) is not None:
        parts.append(
            "## Accuracy\n\nEach method's error beside TensorFlow's, torch's and JAX's is on "
            "{doc}`numerics` (`benchmarks/accuracy.py`).\n"
        )
    for name, text in reports.items():  # reports this page does not know yet
        first = next((ln[2:] for ln in text.splitlines() if ln.startswith("# ")), name)
        parts.append(_titled(text, first))
    return "\n".join(parts)


def split_accuracy(text: str) -> str:
    """Each table of "max / median" cells becomes a table of maxima and one of medians."""
    out: list[str] = []
    table: list[str] = []

    def flush() -> None:
        if table and any(" / " in cell for row in table[2:] for cell in row.split("|")):
            for label, part in (("Largest error", 0), ("Median error", 1)):
                out.extend([f"**{label}** (of `mag`)", ""])
                out.extend(table[:2])
                for row in table[2:]:
                    cells = row.strip().strip("|").split("|")
                    new = []
                    for cell in cells:
                        c = cell.strip()
                        pick = ""
                        if m := re.search(r" \((\w+)\)$", c):
                            pick, c = f" ({m.group(1)})", c[: m.start()]
                        if " / " in c:
                            c = c.split(" / ")[part] + pick
                        new.append(c)
                    out.append("| " + " | ".join(new) + " |")
                out.append("")
        else:
            out.extend(table)
        table.clear()

    text = text.replace(
        "Each cell: **max / median** over",
        "Two tables per case, the **largest** and the **median**\nover",
    )
    for line in text.splitlines():
        if line.startswith("|"):
            table.append(line)
            continue
        flush()
        if m := re.match(r"(## )([\w-]+): (.*)$", line):
            line = f"{m.group(1)}{m.group(3)} (`{m.group(2)}`)"
        out.append(line)
    flush()
    return "\n".join(out)


def write_includes(app: Sphinx) -> None:
    GENERATED.mkdir(exist_ok=True)
    for old in GENERATED.glob("*.png"):
        old.unlink()
    (GENERATED / "benchmark-results.md").write_text(write_benchmark_results())
    readme = BENCH / "README.md"
    method = readme.read_text() if readme.is_file() else ""
    method = "\n".join(ln for ln in method.splitlines() if not ln.startswith("# "))
    (GENERATED / "benchmark-method.md").write_text(_shift(method.strip(), 1) + "\n")
    accuracy = RESULTS / "accuracy.md"
    text = accuracy.read_text() if accuracy.is_file() else "No accuracy results here.\n"
    (GENERATED / "accuracy.md").write_text(split_accuracy(text))


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("builder-inited", write_includes)
    return {"parallel_read_safe": True, "version": xconv.__version__}
