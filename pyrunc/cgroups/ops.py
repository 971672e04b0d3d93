"""Container-level cgroup operations behind the pause/resume/update/events/ps
commands. They load the container from the state store; the cgroup manager
is rebuilt from state (no global flags needed)."""
from __future__ import annotations

from pyrunc.errors import CgroupError, NotRunning, StateError

TYPE_CHECKING = False  # pause/resume are per-container calls: no typing at start-up
if TYPE_CHECKING:
    from collections.abc import Callable


def _load(root: str, cid: str):
    from pyrunc.container import Container
    from pyrunc.store import Store

    store = Store(root)
    return store, Container.load(store, cid)


def _cgroup(c):
    mgr = c.cgroup()
    if mgr is None:
        raise CgroupError(c.id, "container has no cgroup recorded in its state")
    return mgr


def pause(root: str, cid: str) -> None:
    store, c = _load(root, cid)
    # under the container's lock: a concurrent `delete --force` (which thaws
    # and kills) must not find its processes frozen again behind its back
    with store.lock(cid):
        status = c.status()
        if status not in ("running", "created"):  # runc pauses created containers too
            raise NotRunning(cid, "container not running" if status != "paused" else "container already paused")
        _cgroup(c).freeze()


def resume(root: str, cid: str) -> None:
    store, c = _load(root, cid)
    with store.lock(cid):
        if c.status() != "paused":
            raise StateError(cid, "container not paused")
        _cgroup(c).thaw()


def update(root: str, cid: str, delta: dict) -> dict:
    """Apply a partial resources dict and persist the merged resources."""
    from pyrunc.cgroups.update import apply_update

    store, c = _load(root, cid)
    if c.status() == "stopped":
        raise NotRunning(cid, "container not running")
    with store.lock(cid):
        state = store.read_state(cid)
        mgr = _cgroup(c)
        merged = apply_update(mgr, delta)
        state["cgroup"] = mgr.to_dict()
        store.write_state(cid, state)
    return merged


def events(root: str, cid: str, stats_only: bool, interval: float, emit: Callable[[dict], None]) -> None:
    from pyrunc.cgroups import events as ev

    _store, c = _load(root, cid)
    if c.status() == "stopped":
        raise NotRunning(cid, f"container with id {cid} is not running")
    mgr = _cgroup(c)
    if stats_only:
        emit(ev.stats_event(cid, mgr))
        return

    def alive() -> bool:
        try:
            return c.status() not in ("stopped",) and mgr.exists()
        except Exception:
            return False

    ev.stream(cid, mgr, interval, emit, alive)


def ps(root: str, cid: str, fmt: str, ps_args: list[str]) -> str:
    from pyrunc.cgroups import ps as psmod

    _store, c = _load(root, cid)
    pids = _cgroup(c).pids()
    if fmt == "json":
        return psmod.pids_json(pids) + "\n"
    return psmod.ps_table(pids, ps_args)
