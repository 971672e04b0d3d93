"""Endurance: run/delete cycles in a row leave the host where they found
it: the test process's fds, the host's mounts, every cgroup directory and
pyrunc's state dirs.  CI runs ENDURANCE_CYCLES (default 100); PYRUNC_FULL=1
runs 1,000 (or PYRUNC_ENDURANCE_CYCLES=N).

On a machine where other tests run at the same time, set
PYRUNC_SHARED_HOST=1: mounts and cgroups that are not this test's are then
ignored in the comparison (this test's own are always checked)."""
from __future__ import annotations

import os

from tests.conftest import new_id
from tests.hardening.helpers import full_or, host_state, pids_rooted_under

CYCLES = int(os.environ.get("PYRUNC_ENDURANCE_CYCLES", full_or(100, 1000)))
SHARED_HOST = os.environ.get("PYRUNC_SHARED_HOST") == "1"


def relevant(diff: dict, prefix: str, bundle: str) -> dict:
    if not SHARED_HOST:
        return diff
    out = dict(diff)
    for key, mine in (("mounts", lambda e: bundle in e or prefix in e), ("cgroups", lambda e: prefix in e)):
        if key in out:
            kept = {k: [e for e in v if mine(e)] for k, v in out[key].items() if k in ("gone", "new")}
            if any(kept.values()):
                out[key] = kept
            else:
                del out[key]
    return out


def test_run_delete_cycles(pyrunc, make_bundle):
    fg = make_bundle(["true"])
    bg = make_bundle(["sleep", "1000"])
    prefix = new_id("end")
    # one cycle first: the parent cgroups pyrunc creates once stay
    pyrunc("run", "-b", str(fg.path), f"{prefix}-warm", check=True)
    pyrunc("delete", "--force", f"{prefix}-warm", check=True)
    before = host_state(pyrunc)
    failures = []
    for i in range(CYCLES):
        cid = f"{prefix}-{i}"
        if i % 2 == 0:  # foreground run of a short process
            p = pyrunc("run", "-b", str(fg.path), cid)
        else:  # detached, killed by delete --force
            p = pyrunc("run", "-d", "-b", str(bg.path), cid)
        if p.returncode != 0:
            failures.append((cid, p.stderr.strip()))
        d = pyrunc("delete", "--force", cid)
        if d.returncode != 0:
            failures.append((cid, d.stderr.strip()))
        if len(failures) > 5:
            break
    assert failures == []
    after = host_state(pyrunc)
    assert relevant(before.diff(after), prefix, str(fg.path.parent)) == {}
    assert pids_rooted_under(fg.path) == [] and pids_rooted_under(bg.path) == []
