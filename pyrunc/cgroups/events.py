"""`events`: runc's JSON event stream -- stats every interval and oom
events as they happen -- or a single stats event with --stats."""
from __future__ import annotations

import select
import time
from typing import Callable

from pyrunc.cgroups.oom import watcher_for


def stats_event(cid: str, mgr) -> dict:
    return {"type": "stats", "id": cid, "data": mgr.stats()}


def oom_event(cid: str) -> dict:
    return {"type": "oom", "id": cid}


def stream(
    cid: str,
    mgr,
    interval: float,
    emit: Callable[[dict], None],
    alive: Callable[[], bool],
    check_every: float = 0.5,
) -> None:
    """Emit events until alive() turns false."""
    watcher = watcher_for(mgr)
    poller = select.poll()
    if watcher is not None:
        poller.register(watcher.fileno(), watcher.poll_mask)
    next_stats = time.monotonic() + interval
    try:
        while True:
            now = time.monotonic()
            wait = max(0.0, min(next_stats - now, check_every))
            if watcher is not None:
                poller.poll(wait * 1000)
            else:
                time.sleep(wait)
            if watcher is not None:  # v1: eventfd counter; v2: oom_kill delta
                for _ in range(watcher.fired()):
                    emit(oom_event(cid))
            if not alive():
                return
            if interval > 0 and time.monotonic() >= next_stats:
                emit(stats_event(cid, mgr))
                next_stats += interval
                if next_stats < time.monotonic():
                    next_stats = time.monotonic() + interval
    finally:
        if watcher is not None:
            watcher.close()
