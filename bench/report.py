"""Results: samples per runtime per row, medians, ratios, the text table and JSON."""
from __future__ import annotations

import json
import statistics
from dataclasses import dataclass, field


@dataclass
class Row:
    """One line of the table: a measured quantity for every runtime."""

    case: str  # the --only group it belongs to
    label: str  # what the line measures
    unit: str  # "ms" or "MiB"
    samples: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    skipped: str = ""

    def add(self, runtime: str, value: float) -> None:
        self.samples.setdefault(runtime, []).append(value)

    def median(self, runtime: str) -> float | None:
        values = self.samples.get(runtime)
        return statistics.median(values) if values else None

    def n(self) -> int:
        counts = [len(v) for v in self.samples.values()]
        return min(counts) if counts else 0


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "ms":
        return f"{value:.1f} ms" if value >= 10 else f"{value:.2f} ms"
    return f"{value:.2f} {unit}"


def _ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or b == 0:
        return "-"
    return f"{a / b:.2f}x"


def table(rows: list[Row], runtimes: list[str], baseline: str) -> str:
    others = [r for r in runtimes if r != baseline]
    header = ["case", *runtimes, *(f"{r}/{baseline}" for r in others), "n"]
    lines: list[list[str]] = []
    notes: list[str] = []
    failed: dict[tuple[str, str], list[str]] = {}  # the same error on several rows: one note
    for row in rows:
        if row.skipped:
            lines.append([row.label, *(["-"] * (len(header) - 2)), "0"])
            notes.append(f"{row.label}: skipped: {row.skipped}")
            continue
        cells = [row.label]
        for r in runtimes:
            cells.append("error" if r in row.errors and r not in row.samples else _fmt(row.median(r), row.unit))
        for r in others:
            cells.append(_ratio(row.median(r), row.median(baseline)))
        cells.append(str(row.n()))
        lines.append(cells)
        for r, err in row.errors.items():
            failed.setdefault((r, err), []).append(row.label)
    for (r, err), labels in failed.items():
        notes.append(f"{', '.join(labels)}: {r}: {err}")
    widths = [max(len(h), *(len(l[i]) for l in lines)) if lines else len(h) for i, h in enumerate(header)]

    def render(cells: list[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = [c.rjust(w) for c, w in zip(cells[1:], widths[1:])]
        return "  ".join([first, *rest]).rstrip()

    out = [render(header), render(["-" * w for w in widths])]
    out += [render(l) for l in lines]
    if notes:
        out.append("")
        out += [f"note: {n}" for n in notes]
    return "\n".join(out)


def _ratios(row: Row, baseline: str) -> dict[str, float]:
    base = row.median(baseline)
    out: dict[str, float] = {}
    for k in row.samples:
        value = row.median(k)
        if base and value is not None:
            out[k] = value / base
    return out


def to_json(rows: list[Row], runtimes: dict[str, str], baseline: str, machine: dict[str, str],
            settings: dict[str, object]) -> str:
    data = {
        "machine": machine,
        "settings": settings,
        "runtimes": runtimes,
        "baseline": baseline,
        "rows": [
            {
                "case": r.case,
                "label": r.label,
                "unit": r.unit,
                "skipped": r.skipped or None,
                "n": r.n(),
                "median": {k: r.median(k) for k in r.samples},
                "min": {k: min(v) for k, v in r.samples.items()},
                "max": {k: max(v) for k, v in r.samples.items()},
                "ratio_to_baseline": _ratios(r, baseline),
                "samples": r.samples,
                "errors": r.errors,
            }
            for r in rows
        ],
    }
    return json.dumps(data, indent=1)
