"""runtime-spec 1.3.0 hooks on real containers: each kind writes the
namespaces it ran in and the state it got on stdin; the moment it runs;
failing hooks abort and tear down (poststop only warns); a hook past its
timeout is killed, with what it started."""
from __future__ import annotations

import json
import os
import time

import pytest

from tests.conftest import cgroup_dirs_named, new_id

NS = ("mnt", "pid", "net", "uts", "ipc")

# $1 kind, $2 output dir.  Records namespaces, env, argv0, mount points and
# the state from stdin.
SCRIPT = r"""
kind=$1; out=$2
for n in mnt pid net uts ipc; do echo "$n=$(readlink /proc/self/ns/$n)"; done > "$out/$kind.info"
echo "env=$HOOKENV" >> "$out/$kind.info"
echo "argv0=$(tr '\0' '\n' < /proc/$$/cmdline | head -n 1)" >> "$out/$kind.info"
echo "rootfs_proc_mounted=$(grep -c ' [^ ]*rootfs/proc ' /proc/self/mountinfo)" >> "$out/$kind.info"
cat > "$out/$kind.state"
"""


def parse_info(path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines())


def ns_of(pid) -> dict[str, str]:
    return {n: os.readlink(f"/proc/{pid}/ns/{n}") for n in NS}


@pytest.fixture
def hook_script(tmp_path):
    p = tmp_path / "hook.sh"
    p.write_text("#!/bin/sh\n" + SCRIPT)
    p.chmod(0o755)
    return str(p)


def host_hook(script: str, kind: str, out, **extra) -> dict:
    return {"path": "/bin/sh", "args": ["hook-" + kind, script, kind, str(out)], "env": [f"HOOKENV={kind}-env"],
            **extra}


def container_hook(kind: str, **extra) -> dict:
    # startContainer's path resolves in the container: busybox sh (argv0 must
    # name the applet), output to /out
    return {"path": "/bin/sh", "args": ["sh", "-c", SCRIPT, "sh", kind, "/out"],
            "env": [f"HOOKENV={kind}-env"], **extra}


def with_out_mount(out):
    def edit(c):
        c["mounts"].append({"destination": "/out", "type": "bind", "source": str(out), "options": ["rbind", "rw"]})

    return edit


def test_every_hook_kind_runs_in_its_namespace_at_its_moment(pyrunc, make_bundle, hook_script, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    cid = new_id("hk")

    def edit(c):
        with_out_mount(out)(c)
        c["hooks"] = {
            "prestart": [host_hook(hook_script, "prestart", out)],
            "createRuntime": [host_hook(hook_script, "createRuntime", out)],
            "createContainer": [host_hook(hook_script, "createContainer", out)],
            "startContainer": [container_hook("startContainer")],
            "poststart": [host_hook(hook_script, "poststart", out)],
            "poststop": [host_hook(hook_script, "poststop", out)],
        }
        c["annotations"] = {"org.test": "hooks"}

    b = make_bundle(["sleep", "1000"], edit)
    try:
        pyrunc("create", "-b", str(b.path), cid, check=True)
        init = pyrunc.state(cid)["pid"]
        done = sorted(p.name for p in out.iterdir())
        assert done == sorted(f"{k}.{x}" for k in ("prestart", "createRuntime", "createContainer")
                              for x in ("info", "state"))
        host_ns, ctr_ns = ns_of("self"), ns_of(init)
        assert host_ns != ctr_ns
        for kind in ("prestart", "createRuntime"):
            info = parse_info(out / f"{kind}.info")
            assert {n: info[n] for n in NS} == host_ns, kind  # the runtime namespace
        info = parse_info(out / "createContainer.info")
        assert {n: info[n] for n in NS} == ctr_ns  # the container namespace
        assert info["rootfs_proc_mounted"] != "0"  # after the mounts, before pivot_root
        for kind in ("prestart", "createRuntime", "createContainer"):
            info = parse_info(out / f"{kind}.info")
            assert info["env"] == f"{kind}-env"
            if kind != "createContainer":  # its $$ is a container pid, the /proc it sees is the host's
                assert info["argv0"] == "hook-" + kind
            st = json.loads((out / f"{kind}.state").read_text())
            # hooks in the container's namespaces may get the pid as the container sees it
            assert st["id"] == cid and st["pid"] in ((init, 1) if kind == "createContainer" else (init,))
            assert st["status"] == "creating"
            assert st["bundle"] == str(b.path) and st["annotations"] == {"org.test": "hooks"}

        pyrunc("start", cid, check=True)
        info = parse_info(out / "startContainer.info")
        assert {n: info[n] for n in NS} == ctr_ns
        assert info["rootfs_proc_mounted"] == "0"  # after pivot_root: the rootfs is "/"
        assert info["env"] == "startContainer-env" and info["argv0"] == "sh"
        st = json.loads((out / "startContainer.state").read_text())
        assert st["id"] == cid and st["pid"] in (init, 1)
        info = parse_info(out / "poststart.info")
        assert {n: info[n] for n in NS} == host_ns
        st = json.loads((out / "poststart.state").read_text())
        assert st["status"] == "running" and st["pid"] == init
        assert not (out / "poststop.info").exists()

        pyrunc("kill", cid, "KILL", check=True)
        pyrunc("delete", "--force", cid, check=True)
        info = parse_info(out / "poststop.info")
        assert {n: info[n] for n in NS} == host_ns
        st = json.loads((out / "poststop.state").read_text())
        assert st["id"] == cid and st["status"] == "stopped"
    finally:
        pyrunc("delete", "--force", cid)


def failing(kind: str) -> dict:
    if kind == "startContainer":
        return {"path": "/bin/sh", "args": ["sh", "-c", "echo broken >&2; exit 3"]}
    return {"path": "/bin/sh", "args": ["sh", "-c", "echo broken >&2; exit 3"]}


@pytest.mark.parametrize("kind", ["prestart", "createRuntime", "createContainer"])
def test_failing_create_hook_aborts_and_tears_down(pyrunc, make_bundle, kind):
    cid = new_id("hk")
    b = make_bundle(["sleep", "1000"], lambda c: c.update(hooks={kind: [failing(kind)]}))
    try:
        p = pyrunc("create", "-b", str(b.path), cid)
        assert p.returncode != 0
        assert kind in p.stderr and "status 3" in p.stderr
        assert pyrunc.ids() == []
        assert cgroup_dirs_named(cid) == []
    finally:
        pyrunc("delete", "--force", cid)


def test_failing_start_container_hook_fails_start_and_stops(pyrunc, make_bundle):
    cid = new_id("hk")
    b = make_bundle(["sleep", "1000"], lambda c: c.update(hooks={"startContainer": [failing("startContainer")]}))
    try:
        pyrunc("create", "-b", str(b.path), cid, check=True)
        p = pyrunc("start", cid)
        assert p.returncode != 0 and "startContainer" in p.stderr and "status 3" in p.stderr
        assert pyrunc.state(cid)["status"] == "stopped"
    finally:
        pyrunc("delete", "--force", cid)
    assert cgroup_dirs_named(cid) == []


def test_failing_poststart_hook_is_an_error_and_stops_the_container(pyrunc, make_bundle):
    cid = new_id("hk")
    b = make_bundle(["sleep", "1000"], lambda c: c.update(hooks={"poststart": [failing("poststart")]}))
    try:
        pyrunc("create", "-b", str(b.path), cid, check=True)
        p = pyrunc("start", cid)
        assert p.returncode != 0 and "poststart" in p.stderr and "broken" in p.stderr
        assert pyrunc.state(cid)["status"] == "stopped"
    finally:
        pyrunc("delete", "--force", cid)


def test_failing_poststop_hook_is_a_warning(pyrunc, make_bundle, tmp_path):
    cid = new_id("hk")
    marker = tmp_path / "second-ran"
    hooks = {"poststop": [failing("poststop"), {"path": "/bin/sh", "args": ["sh", "-c", f"touch {marker}"]}]}
    b = make_bundle(["true"], lambda c: c.update(hooks=hooks))
    try:
        pyrunc("run", "--keep", "-b", str(b.path), cid, check=True)
        p = pyrunc("delete", cid)
        assert p.returncode == 0
        assert "poststop" in p.stderr and "warn" in p.stderr
        assert pyrunc.ids() == []
    finally:
        pyrunc("delete", "--force", cid)


def _hanging(marker: str, started) -> dict:
    # the hook starts a child that keeps its stdout open, then hangs
    return {"path": "/bin/sh", "args": ["sh", "-c", f"sleep {marker} & touch {started}; wait"], "timeout": 1}


def sleepers(marker: str) -> list[int]:
    """Live (non-zombie) processes running `sleep <marker>`."""
    found = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
            with open(f"/proc/{d}/stat") as f:
                st = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if argv[:2] == [b"sleep", marker.encode()] and st != "Z":
            found.append(int(d))
    return found


@pytest.mark.parametrize("kind", ["createRuntime", "createContainer"])
def test_hanging_hook_is_killed_at_its_timeout(pyrunc, make_bundle, tmp_path, kind):
    cid = new_id("hk")
    started = tmp_path / "started"
    marker = str(900000 + int.from_bytes(os.urandom(2), "little"))
    b = make_bundle(["sleep", "1000"], lambda c: c.update(hooks={kind: [_hanging(marker, started)]}))
    try:
        p = pyrunc("create", "-b", str(b.path), cid, timeout=60)
        assert p.returncode != 0
        assert kind in p.stderr and "timeout of 1s" in p.stderr and "killed" in p.stderr
        assert pyrunc.ids() == [] and cgroup_dirs_named(cid) == []
        assert started.exists()  # the hook did run and start its child
        deadline = time.monotonic() + 10
        while sleepers(marker) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert sleepers(marker) == [], "the hook's child survived its timeout"
    finally:
        pyrunc("delete", "--force", cid)
