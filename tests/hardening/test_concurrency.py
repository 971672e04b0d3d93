"""Concurrency: many lifecycles at once on distinct ids, and operations
racing on one id.  Exactly one of two conflicting operations wins, the
other fails with one clear line; nothing is corrupted or leaked."""
from __future__ import annotations

import json
import subprocess
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from pyrunc.proc import is_alive
from tests.conftest import PYRUNC, new_id
from tests.hardening.helpers import (
    assert_nothing_left,
    cgroup_dirs_with,
    full_or,
    host_state,
    pids_rooted_under,
    wait_for,
)

LIFECYCLES = full_or(100, 100)
IN_FLIGHT = full_or(12, 16)
RACES = full_or(3, 20)


def lifecycle(rt, bundle, cid: str) -> list[str]:
    """create, state, start, state, kill, delete; the failures, if any."""
    errors = []

    def step(*args: str, want: str | None = None) -> dict:
        p = rt(*args)
        if p.returncode != 0:
            errors.append(f"{args[0]}: {p.stderr.strip()}")
            return {}
        if want:
            st = json.loads(p.stdout)
            if st["status"] != want:
                errors.append(f"{args[0]}: status {st['status']} != {want}")
            return st
        return {}

    step("create", "-b", str(bundle), cid)
    pid = step("state", cid, want="created").get("pid", 0)
    step("start", cid)
    step("state", cid, want="running")
    step("kill", cid, "KILL")
    try:  # watched through /proc: polling `state` would cost a process each time
        wait_for(lambda: not pid or not is_alive(pid, None), what=f"{cid} to stop")
    except AssertionError as e:
        errors.append(str(e))
    step("delete", cid)
    return errors


def test_many_lifecycles_in_parallel(pyrunc, make_bundle, tmp_path):
    b = make_bundle(["sleep", "1000"])
    prefix = new_id("par")
    before = host_state(pyrunc)
    ids = [f"{prefix}-{i}" for i in range(LIFECYCLES)]
    with ThreadPoolExecutor(IN_FLIGHT) as pool:
        results = dict(zip(ids, pool.map(lambda c: lifecycle(pyrunc, b.path, c), ids)))
    failed = {c: e for c, e in results.items() if e}
    assert failed == {}, failed
    assert pyrunc.ids() == []
    assert cgroup_dirs_with(prefix) == []
    assert pids_rooted_under(b.path) == []
    after = host_state(pyrunc)
    diff = before.diff(after)
    diff.pop("cgroups", None) if not any(prefix in d for d in diff.get("cgroups", {}).get("new", [])) else None
    assert "mounts" not in diff and "state_dirs" not in diff, diff


def race(rt, *commands: list[str]) -> list[subprocess.CompletedProcess]:
    """Start the commands as close together as possible; their results."""
    barrier = threading.Barrier(len(commands))
    out: list[subprocess.CompletedProcess | None] = [None] * len(commands)

    def go(i: int, args: list[str]) -> None:
        argv = [*PYRUNC, "--root", str(rt.root), *args]
        # stderr through a file: a created init keeps what it inherited open
        with tempfile.TemporaryFile() as err:
            barrier.wait()
            rc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                                timeout=120).returncode
            err.seek(0)
            out[i] = subprocess.CompletedProcess(argv, rc, "", err.read().decode(errors="replace"))

    threads = [threading.Thread(target=go, args=(i, c)) for i, c in enumerate(commands)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out  # type: ignore[return-value]


def assert_clear_error(p: subprocess.CompletedProcess, *phrases: str) -> None:
    lines = p.stderr.strip().splitlines()
    assert p.returncode != 0
    assert len(lines) == 1 and "Traceback" not in p.stderr, p.stderr
    assert any(ph in lines[0] for ph in phrases), lines[0]


def assert_consistent(rt) -> None:
    """`list` works and every state file parses."""
    p = rt("list", "--format", "json")
    assert p.returncode == 0, p.stderr
    for cid in rt.ids():
        json.loads((rt.root / cid / "state.json").read_text())


def test_two_creates_of_one_id(pyrunc, make_bundle):
    b = make_bundle(["sleep", "1000"])
    for _ in range(RACES):
        cid = new_id("dup")
        results = race(pyrunc, ["create", "-b", str(b.path), cid], ["create", "-b", str(b.path), cid])
        winners = [p for p in results if p.returncode == 0]
        assert len(winners) == 1, [p.stderr for p in results]
        loser = next(p for p in results if p.returncode != 0)
        assert_clear_error(loser, "already exists")
        assert pyrunc.state(cid)["status"] == "created"
        assert_consistent(pyrunc)
        assert pyrunc("delete", "--force", cid).returncode == 0
        assert_nothing_left(pyrunc, cid, b.path)


def test_start_against_delete(pyrunc, make_bundle):
    b = make_bundle(["sleep", "1000"])
    seen = set()
    for _ in range(RACES):
        cid = new_id("sd")
        pyrunc("create", "-b", str(b.path), cid, check=True)
        start, delete = race(pyrunc, ["start", cid], ["delete", cid])
        assert (start.returncode == 0) != (delete.returncode == 0), (start.stderr, delete.stderr)
        if start.returncode == 0:
            seen.add("start")
            assert_clear_error(delete, "not stopped", "running")
            assert pyrunc.state(cid)["status"] == "running"
        else:
            seen.add("delete")
            assert_clear_error(start, "does not exist", "exited", "stopped")
            assert not (pyrunc.root / cid).exists()
        assert_consistent(pyrunc)
        pyrunc("delete", "--force", cid)
        assert_nothing_left(pyrunc, cid, b.path)


@pytest.mark.parametrize("force", [False, True], ids=["delete", "delete-force"])
def test_create_against_delete(pyrunc, make_bundle, force):
    """A prestart hook widens the window in which the container exists but
    is still being created."""
    def edit(c):
        c["hooks"] = {"prestart": [{"path": "/bin/sleep", "args": ["sleep", "0.5"]}]}
    b = make_bundle(["sleep", "1000"], edit)
    for delay in (0.0, 0.2, 0.4, 0.6, 0.9):
        cid = new_id("cd")
        results: dict = {}

        def create():
            results["create"] = race(pyrunc, ["create", "-b", str(b.path), cid])[0]
        t = threading.Thread(target=create)
        t.start()
        time.sleep(delay)
        delete = pyrunc("delete", *(["--force"] if force else []), cid)
        t.join()
        c = results["create"]
        for p in (c, delete):
            if p.returncode != 0:
                lines = p.stderr.strip().splitlines()
                assert len(lines) == 1 and "Traceback" not in p.stderr and "internal error" not in p.stderr, p.stderr
        if c.returncode != 0:
            assert "deleted while it was being created" in c.stderr or "exited unexpectedly" in c.stderr, c.stderr
        pyrunc("delete", "--force", cid)
        assert_nothing_left(pyrunc, cid, b.path)


def test_two_starts_of_one_container(pyrunc, make_bundle):
    b = make_bundle(["sleep", "1000"])
    for _ in range(RACES):
        cid = new_id("ss")
        pyrunc("create", "-b", str(b.path), cid, check=True)
        results = race(pyrunc, ["start", cid], ["start", cid])
        assert sorted(p.returncode == 0 for p in results) == [False, True], [p.stderr for p in results]
        assert_clear_error(next(p for p in results if p.returncode), "running", "start")
        assert pyrunc.state(cid)["status"] == "running"
        pyrunc("delete", "--force", cid)
        assert_nothing_left(pyrunc, cid, b.path)


def test_kill_against_delete(pyrunc, make_bundle):
    b = make_bundle(["sleep", "1000"])
    for _ in range(RACES):
        cid = new_id("kd")
        pyrunc("run", "-d", "-b", str(b.path), cid, check=True)
        kill, delete = race(pyrunc, ["kill", cid, "KILL"], ["delete", "--force", cid])
        assert delete.returncode == 0, delete.stderr
        if kill.returncode != 0:
            assert_clear_error(kill, "does not exist", "not running")
        assert_consistent(pyrunc)
        assert_nothing_left(pyrunc, cid, b.path)


def test_two_force_deletes(pyrunc, make_bundle):
    b = make_bundle(["sleep", "1000"])
    for _ in range(RACES):
        cid = new_id("dd")
        pyrunc("run", "-d", "-b", str(b.path), cid, check=True)
        results = race(pyrunc, ["delete", "--force", cid], ["delete", "--force", cid])
        assert [p.returncode for p in results] == [0, 0], [p.stderr for p in results]
        assert_nothing_left(pyrunc, cid, b.path)


@pytest.mark.parametrize("other", ["state", "kill", "exec", "pause"])
def test_delete_against_readers(pyrunc, make_bundle, other):
    """delete --force racing with another command: the other succeeds or
    fails with one clear line; nothing is left."""
    b = make_bundle(["sleep", "1000"])
    for _ in range(RACES):
        cid = new_id("dr")
        pyrunc("run", "-d", "-b", str(b.path), cid, check=True)
        args = {"state": ["state", cid], "kill": ["kill", cid, "TERM"],
                "exec": ["exec", cid, "true"], "pause": ["pause", cid]}[other]
        p, delete = race(pyrunc, args, ["delete", "--force", cid])
        assert delete.returncode == 0, delete.stderr
        if p.returncode != 0:
            lines = p.stderr.strip().splitlines()
            assert len(lines) == 1 and "Traceback" not in p.stderr, p.stderr
        assert_nothing_left(pyrunc, cid, b.path)
