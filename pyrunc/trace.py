"""The init's timeline in --debug mode.

With --debug, create puts an OP_TRACE record first in the plan: the init
then writes one line per plan record as it starts it ("index op
ns" of CLOCK_REALTIME, csrc/init/util.c) to `init.trace` in the state dir, and
create saves the plan's description (pyrunc.linux.plan_view) beside it as
`init.plan.json`.  create logs the records run up to "ready", start (or
run) the rest, each with its duration; nothing of this happens without
--debug."""
from __future__ import annotations

import os

from pyrunc import jsontext

TRACE_FILE = "init.trace"
PLAN_FILE = "init.plan.json"


def open_trace(state_dir: str, lowest_fd: int) -> int:
    """The trace file, opened for the init above `lowest_fd` (the preserved
    fds must stay where they are)."""
    import fcntl

    fd = os.open(os.path.join(state_dir, TRACE_FILE), os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
    high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, lowest_fd)
    os.close(fd)
    return high


def save_plan(state_dir: str, records: list[dict]) -> None:
    with open(os.path.join(state_dir, PLAN_FILE), "w") as f:
        f.write(jsontext.dumps(records))


def read_trace(state_dir: str) -> list[tuple[int, int, int]]:
    """(plan index, op code, start in ns of CLOCK_REALTIME (a time namespace shifts the monotonic clock)) per record run so far."""
    try:
        with open(os.path.join(state_dir, TRACE_FILE)) as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    out = []
    for line in lines:
        parts = line.split()
        if len(parts) == 3 and all(p.lstrip("-").isdigit() for p in parts):
            out.append((int(parts[0]), int(parts[1]), int(parts[2])))
    return out


def timeline(state_dir: str, after: int = -1, until: int | None = None) -> list[str]:
    """Log lines for the records with index > `after` (and <= `until`):
    "init [i] text (source): 0.123 ms" — the duration runs to the start of
    the next record (or to `until`'s ns / the trace's end)."""
    try:
        with open(os.path.join(state_dir, PLAN_FILE)) as f:
            records = {r["index"]: r for r in jsontext.loads(f.read())}
    except (OSError, ValueError):
        records = {}
    return format_entries(read_trace(state_dir), records, after, until)


def format_entries(entries: list[tuple[int, int, int]], records: dict[int, dict], after: int = -1,
                   until: int | None = None) -> list[str]:
    """The timeline's lines for trace entries, described by plan records
    (pyrunc.linux.plan_view.describe) keyed by index."""
    lines = []
    for k, (index, op, ns) in enumerate(entries):
        if index <= after or (until is not None and index > until):
            continue
        nxt = entries[k + 1][2] if k + 1 < len(entries) else None
        r = records.get(index, {})
        what = r.get("text") or f"op {op}"
        if r.get("source"):
            what += f" ({r['source']})"
        took = f"{(nxt - ns) / 1e6:.3f} ms" if nxt is not None else "last step"
        lines.append(f"init [{index}] {what}: {took}")
    return lines


def ready_index(state_dir: str) -> int | None:
    try:
        with open(os.path.join(state_dir, PLAN_FILE)) as f:
            return next((r["index"] for r in jsontext.loads(f.read()) if r["op"] == "ready"), None)
    except (OSError, ValueError):
        return None


def log_after_start(state_dir: str, what: str) -> None:
    """After `start`: the records the init ran past the start gate, up to
    execve (waiting a moment for its last line: the gate answers before
    the init closes its fds and execs)."""
    import time

    from pyrunc import log

    ready = ready_index(state_dir)
    if ready is None:
        return
    deadline = time.monotonic() + 0.2
    while time.monotonic() < deadline:
        entries = read_trace(state_dir)
        if entries and entries[-1][1] == 43:  # OP_EXEC
            break
        time.sleep(0.002)
    for line in timeline(state_dir, after=ready):
        log.get().debug(f"{what}: {line}")


# ------------------------------------------------------------------ exec

def attach_memfd(plan, lowest_fd: int) -> int:  # plan: pyrunc.linux.plan.Plan
    """For `exec`: a memfd the init writes its timeline to (no state dir
    file), put first in the plan as OP_TRACE.  Returns the fd to pass."""
    import fcntl

    from pyrunc.linux import ops as o

    fd = os.memfd_create("pyrunc-trace", os.MFD_CLOEXEC)
    high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, lowest_fd)
    os.close(fd)
    plan.ops.insert(0, (o.OP_TRACE, high))
    return high


def log_memfd(fd: int, records: list[dict], what: str) -> None:
    """Log the timeline the init wrote to `fd` (waiting a moment for its
    execve line), then close it."""
    import time

    from pyrunc import log

    def entries() -> list[tuple[int, int, int]]:
        data = os.pread(fd, 1 << 20, 0).decode(errors="replace")
        return [tuple(int(x) for x in line.split()) for line in data.splitlines()  # type: ignore[misc]
                if len(line.split()) == 3]

    deadline = time.monotonic() + 0.2
    got = entries()
    while time.monotonic() < deadline and not (got and got[-1][1] == 43):  # OP_EXEC
        time.sleep(0.002)
        got = entries()
    os.close(fd)
    # index 0 is the trace record itself
    for line in format_entries(got, {r["index"]: r for r in records}, after=0):
        log.get().debug(f"{what}: {line}")
