"""TAP output: `ok N - <section> <description>`, diagnostics, and the summary line."""
from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TextIO


@dataclass(frozen=True)
class Outcome:
    number: int
    title: str
    status: str  # "pass" | "fail" | "skip"
    detail: str = ""
    seconds: float = 0.0


class TapWriter:
    def __init__(self, total: int, stream: TextIO = sys.stdout) -> None:
        self.stream = stream
        self.passed = self.failed = self.skipped = 0
        self.failures: list[Outcome] = []
        print(f"1..{total}", file=stream, flush=True)

    def emit(self, o: Outcome) -> None:
        if o.status == "pass":
            self.passed += 1
            line = f"ok {o.number} - {o.title}"
        elif o.status == "skip":
            self.skipped += 1
            line = f"ok {o.number} - {o.title} # SKIP {_one_line(o.detail)}"
        else:
            self.failed += 1
            self.failures.append(o)
            line = f"not ok {o.number} - {o.title}"
        print(line, file=self.stream)
        if o.status == "fail":
            for d in (o.detail or "failed").splitlines():
                print(f"# {d}", file=self.stream)
        self.stream.flush()

    def summary(self) -> str:
        s = f"{self.passed} passed, {self.failed} failed"
        if self.skipped:
            s += f", {self.skipped} skipped"
        return s


def _one_line(s: str) -> str:
    return " ".join(s.split())
