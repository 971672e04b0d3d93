"""Crash safety: pyrunc killed with SIGKILL at increasing delays during
create, start, exec, run and delete.  Whatever point the kill hits,
state.json is absent or complete JSON, and `delete --force` removes
everything: no process, mount, cgroup or state dir remains.

The delays sweep the whole operation (Python start-up, config load, cgroup
creation, the init's setup, the state writes) without any timing
assertion: each kill just lands somewhere."""
from __future__ import annotations

import json
import os
import subprocess
import time

import pytest

from tests.conftest import PYRUNC, new_id
from tests.hardening.helpers import (
    assert_nothing_left,
    full_or,
    json_or_absent,
    pids_in_cgroup_named,
    wait_for,
)

STEPS = full_or(12, 40)


def delays(total: float) -> list[float]:
    """STEPS points sweeping 0 .. 1.1 x `total` (the uninterrupted duration
    of the operation, measured on this machine)."""
    return [round(1.1 * total * i / (STEPS - 1), 4) for i in range(STEPS)]


def duration(rt, args: list[str]) -> float:
    t = time.monotonic()
    p = rt(*args)
    assert p.returncode == 0, p.stderr
    return time.monotonic() - t


def kill_during(rt, args: list[str], delay: float) -> int | None:
    """Start `pyrunc ARGS`, SIGKILL it after `delay` (if still running).
    Returns its exit code if it finished first."""
    p = subprocess.Popen([*PYRUNC, "--root", str(rt.root), *args],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        p.wait(timeout=delay)
        return p.returncode
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        return None


def check_state_file(rt, cid: str) -> None:
    d = rt.root / cid
    st = json_or_absent(d / "state.json")
    if st is not None:
        assert st["id"] == cid
    if d.exists():
        for name in os.listdir(d):
            if name.endswith(".json"):
                json_or_absent(d / name)  # every finished JSON file parses


def force_delete_cleans(rt, cid: str, bundle) -> None:
    p = rt("delete", "--force", cid)
    assert p.returncode == 0, p.stderr
    assert pids_in_cgroup_named(cid) == []
    # an init orphaned mid-setup notices its lost sync socket and exits;
    # anything else would be a leak
    wait_for(lambda: not bundle_processes(bundle), timeout=10, what="orphaned processes to go")
    assert_nothing_left(rt, cid, bundle)


def bundle_processes(bundle) -> list[int]:
    from tests.hardening.helpers import pids_rooted_under

    return pids_rooted_under(bundle)


@pytest.fixture
def sleeper(make_bundle):
    return make_bundle(["sleep", "1000"])


def test_kill_during_create(pyrunc, sleeper):
    cid = new_id("kc")
    total = duration(pyrunc, ["create", "-b", str(sleeper.path), cid])
    pyrunc("delete", "--force", cid, check=True)
    outcomes = set()
    for delay in delays(total):
        cid = new_id("kc")
        rc = kill_during(pyrunc, ["create", "-b", str(sleeper.path), cid], delay)
        outcomes.add("finished" if rc == 0 else "killed")
        check_state_file(pyrunc, cid)
        force_delete_cleans(pyrunc, cid, sleeper.path)
    # the sweep hit both sides (otherwise it proved nothing)
    assert "killed" in outcomes


def test_kill_during_run(pyrunc, make_bundle):
    b = make_bundle(["sleep", "1000"])
    cid = new_id("kr")
    total = duration(pyrunc, ["run", "-d", "-b", str(b.path), cid])
    pyrunc("delete", "--force", cid, check=True)
    for delay in delays(total):
        cid = new_id("kr")
        kill_during(pyrunc, ["run", "-d", "-b", str(b.path), cid], delay)
        check_state_file(pyrunc, cid)
        force_delete_cleans(pyrunc, cid, b.path)


def test_kill_during_start(pyrunc, sleeper):
    cid = new_id("ks")
    pyrunc("create", "-b", str(sleeper.path), cid, check=True)
    total = duration(pyrunc, ["start", cid])
    pyrunc("delete", "--force", cid, check=True)
    for delay in delays(total):
        cid = new_id("ks")
        pyrunc("create", "-b", str(sleeper.path), cid, check=True)
        kill_during(pyrunc, ["start", cid], delay)
        check_state_file(pyrunc, cid)
        st = pyrunc("state", cid)
        assert st.returncode == 0, st.stderr  # still a known container
        status = json.loads(st.stdout)["status"]
        assert status in ("created", "running"), status
        if status == "created":  # the kill beat the gate: start works now
            p = pyrunc("start", cid)
            assert p.returncode == 0, p.stderr
        else:  # the init really runs the process
            assert os.readlink(f"/proc/{json.loads(st.stdout)['pid']}/exe").endswith("busybox")
        force_delete_cleans(pyrunc, cid, sleeper.path)


def test_kill_during_exec(pyrunc, sleeper):
    cid = new_id("kx")
    pyrunc("run", "-d", "-b", str(sleeper.path), cid, check=True)
    try:
        total = duration(pyrunc, ["exec", "-d", cid, "sleep", "500"])
        for delay in delays(total):
            kill_during(pyrunc, ["exec", cid, "sleep", "500"], delay)
            check_state_file(pyrunc, cid)
            assert pyrunc.state(cid)["status"] == "running"
            # the container still works after the crashed exec
            p = pyrunc("exec", cid, "true")
            assert p.returncode == 0, p.stderr
    finally:
        force_delete_cleans(pyrunc, cid, sleeper.path)


@pytest.mark.parametrize("status", ["created", "running", "stopped"])
def test_kill_during_delete(pyrunc, make_bundle, status):
    b = make_bundle(["sleep", "1000"] if status != "stopped" else ["true"])
    cid = new_id("kd")
    pyrunc("create", "-b", str(b.path), cid, check=True)
    total = duration(pyrunc, ["delete", "--force", cid])
    for delay in delays(total)[::2]:
        cid = new_id("kd")
        pyrunc("create", "-b", str(b.path), cid, check=True)
        if status != "created":
            pyrunc("start", cid, check=True)
        if status == "stopped":
            wait_for(lambda: pyrunc.state(cid)["status"] == "stopped", what="exit")
        kill_during(pyrunc, ["delete", "--force", cid], delay)
        check_state_file(pyrunc, cid)
        force_delete_cleans(pyrunc, cid, b.path)


def test_state_file_is_never_half_written(pyrunc, sleeper):
    """A reader polling state.json during creates and deletes (killed or
    not) only ever sees complete documents."""
    import threading

    seen = {"docs": 0, "bad": []}
    stop = threading.Event()
    ids = [new_id("kw") for _ in range(6)]

    def poll():
        while not stop.is_set():
            for cid in ids:
                try:
                    data = (pyrunc.root / cid / "state.json").read_bytes()
                except OSError:
                    continue
                try:
                    import json

                    json.loads(data)
                    seen["docs"] += 1
                except ValueError:
                    seen["bad"].append(data)

    total = duration(pyrunc, ["create", "-b", str(sleeper.path), ids[0]])
    pyrunc("delete", "--force", ids[0], check=True)
    t = threading.Thread(target=poll, daemon=True)
    t.start()
    try:
        for i, cid in enumerate(ids):
            kill_during(pyrunc, ["create", "-b", str(sleeper.path), cid], total * (0.5 + 0.2 * i))
            pyrunc("delete", "--force", cid)
    finally:
        stop.set()
        t.join()
    assert seen["bad"] == []
    for cid in ids:
        assert_nothing_left(pyrunc, cid, sleeper.path)


def test_kill_during_pause_and_resume(pyrunc, sleeper):
    cid = new_id("kp")
    pyrunc("run", "-d", "-b", str(sleeper.path), cid, check=True)
    try:
        total = duration(pyrunc, ["pause", cid]) + duration(pyrunc, ["resume", cid])
        for delay in delays(total / 2):
            for op in ("pause", "resume"):
                kill_during(pyrunc, [op, cid], delay)
                check_state_file(pyrunc, cid)
                assert pyrunc.state(cid)["status"] in ("running", "paused")
        # a half-frozen cgroup is still resumable and deletable
        assert pyrunc("resume", cid).returncode in (0, 1)
    finally:
        force_delete_cleans(pyrunc, cid, sleeper.path)


@pytest.mark.parametrize("made", [0, 1, 3])
def test_force_delete_after_a_create_killed_while_making_the_cgroup(pyrunc, make_bundle, made):
    """create records the cgroup in state.json before it makes the cgroup
    directories, one hierarchy at a time; a kill in between leaves some made
    and others (such as the freezer) not.  delete --force must still clean
    up, without tripping over the missing ones."""
    from pyrunc import cgroups
    from pyrunc.store import Store

    b = make_bundle(["true"])
    cid = new_id("kc")
    mgr = cgroups.manager_for(f"/{cid}", cid, rootless=False, systemd=False)
    store = Store(str(pyrunc.root))
    store.create_dir(cid)
    store.write_state(cid, {"ociVersion": "1.3.0", "id": cid, "pid": 0, "bundle": str(b.path),
                            "created": "2026-11-29T00:00:00.000000Z", "owner": "root", "cgroup": mgr.to_dict()})
    dirs = [os.path.dirname(p) for p in mgr.procs_files()]
    try:
        freezer_last = sorted(dirs, key=lambda d: "freezer" in d)
        for d in freezer_last[:made]:
            os.makedirs(d)
        assert pyrunc.state(cid)["status"] == "creating"
        p = pyrunc("delete", "--force", cid)
        assert p.returncode == 0, p.stderr
        assert_nothing_left(pyrunc, cid)
    finally:
        for d in dirs:
            try:
                os.rmdir(d)
            except FileNotFoundError:
                pass
