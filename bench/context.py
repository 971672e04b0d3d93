"""Shared state of one benchmark run and the paired-measurement loop."""
from __future__ import annotations

import itertools
import os
import time
from dataclasses import dataclass, field
from typing import Callable

from . import proc
from .bundle import Bundles
from .report import Row
from .runtime import Runtime


@dataclass(frozen=True)
class Sizes:
    """How many repetitions each case does (--quick or full)."""

    run: int
    cycle: int
    ops: int
    list_sizes: tuple[int, ...]
    list_reps: int
    concurrent: int
    concurrent_reps: int
    memory: int
    docker: int
    throughput: int = 48  # lifecycles per batch
    throughput_parallel: int = 8  # at a time
    throughput_reps: int = 3

    def scaled(self, n: int) -> "Sizes":
        """Every repetition count set to n (sizes of the store unchanged)."""
        return Sizes(n, n, n, self.list_sizes, n, self.concurrent, n, n, n,
                     self.throughput, self.throughput_parallel, n)


QUICK = Sizes(run=10, cycle=10, ops=10, list_sizes=(1, 100), list_reps=5,
              concurrent=50, concurrent_reps=1, memory=3, docker=5, throughput_reps=1)
FULL = Sizes(run=40, cycle=30, ops=30, list_sizes=(1, 100, 1000), list_reps=15,
             concurrent=50, concurrent_reps=5, memory=10, docker=20, throughput_reps=3)

# One step measures one runtime once: it returns {row key: value}.
Step = Callable[[Runtime, int], dict[str, float]]


@dataclass
class Context:
    workdir: str
    bundles: Bundles
    runtimes: list[Runtime]
    sizes: Sizes
    workers: int
    docker_image: str
    log: Callable[[str], None]
    private_dockerd: bool = False
    cpu: bool = False  # --cpu: a CPU-time row beside each single-command row
    _seq: "itertools.count[int]" = field(default_factory=itertools.count)

    def new_id(self, rt: Runtime, tag: str) -> str:
        cid = f"b{os.getpid()}-{tag}-{next(self._seq)}"
        rt.ids.add(cid)
        return cid

    def pid_file(self, rt: Runtime, cid: str) -> str:
        return os.path.join(self.workdir, "pids", f"{rt.name}-{cid}.pid")

    def paired(self, rows: dict[str, Row], n: int, step: Step, warmup: int = 1,
               runtimes: list[Runtime] | None = None) -> None:
        """Interleave runtimes (A B, then B A, ...) for warmup + n iterations,
        adding each step's values to the rows. A runtime whose step fails gets
        the error on every row and drops out of this case."""
        live = list(runtimes if runtimes is not None else self.runtimes)
        for i in range(warmup + n):
            order = live if i % 2 == 0 else live[::-1]
            for rt in list(order):
                try:
                    values = step(rt, i)
                except proc.BenchError as exc:
                    for row in rows.values():
                        row.errors[rt.name] = str(exc)
                    live.remove(rt)
                    rt.cleanup()
                    continue
                finally:
                    proc.reap()
                if i >= warmup:
                    for key, value in values.items():
                        rows[key].add(rt.name, value)
            if not live:
                return

    def parallel(self, rt: Runtime, commands: list[list[str]], what: str) -> float:
        """Run the runtime subcommands with up to `workers` at once; return
        the wall seconds. Orphaned container inits reaped on the way are
        ignored. Raises BenchError on the first failure (after draining)."""
        t0 = time.perf_counter()
        pending = list(reversed(commands))
        running: dict[int, list[str]] = {}
        failure = ""
        while pending or running:
            while pending and len(running) < self.workers and not failure:
                args = pending.pop()
                running[proc.spawn(rt.argv(*args), rt.stderr_path)] = args
            if not running:
                break
            try:
                pid, status, _ = os.wait4(-1, 0)
            except ChildProcessError:
                break
            done = running.pop(pid, None)
            if done is not None and os.waitstatus_to_exitcode(status) != 0 and not failure:
                failure = f"{what}: `{rt.name} {' '.join(done)}` failed: {proc.stderr_tail(rt.stderr_path)}"
        if failure:
            raise proc.BenchError(failure)
        return time.perf_counter() - t0
