"""runtime.md: state, create, start, kill, delete and the errors each MUST give."""
from __future__ import annotations

import os
import time
from pathlib import Path

from ..bundle import Bundle
from ..harness import Ctx, Fail, Skip, check, expect, expect_eq


def _sleeper(ctx: Ctx) -> Bundle:
    b = ctx.bundle("/checker", "sleep", "600")
    return b


def _pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] not in "ZX"
    except (OSError, IndexError):
        return False


@check("runtime.md#state", "state after create has ociVersion, id, status=created, pid and bundle")
def state_created(ctx: Ctx) -> None:
    b = ctx.bundle()
    b.config["annotations"] = {"org.example.conformance": "yes"}
    cid, _ = ctx.create(b)
    st = ctx.state(cid)
    for key in ("ociVersion", "id", "status", "bundle"):
        expect(key in st, f"state lacks {key!r}: {st}")
    expect(isinstance(st["ociVersion"], str) and st["ociVersion"] != "", f"bad ociVersion {st.get('ociVersion')!r}")
    expect_eq(st["id"], cid, "state.id")
    expect_eq(st["status"], "created", "state.status after create")
    expect(isinstance(st.get("pid"), int) and st["pid"] > 0, f"state.pid must be a positive int: {st.get('pid')!r}")
    expect_eq(os.path.realpath(st["bundle"]), os.path.realpath(b.path), "state.bundle")
    expect(os.path.isabs(st["bundle"]), f"state.bundle must be absolute: {st['bundle']!r}")


@check("runtime.md#state", "state carries the config's annotations")
def state_annotations(ctx: Ctx) -> None:
    b = ctx.bundle()
    b.config["annotations"] = {"org.example.conformance": "yes", "org.example.n": "2"}
    cid, _ = ctx.create(b)
    st = ctx.state(cid)
    expect_eq(st.get("annotations"), b.config["annotations"], "state.annotations")


@check("runtime.md#create", "create MUST NOT run the user-specified program")
def create_does_not_run(ctx: Ctx) -> None:
    b = ctx.bundle("/checker", "echo", "started")
    cid, _ = ctx.create(b)
    time.sleep(0.2)
    expect("echo=started" not in b.stdout(), "the process ran before start")
    ctx.start(cid)
    ctx.wait_stopped(cid)
    expect("echo=started" in b.stdout(), "the process did not run after start")


@check("runtime.md#start", "start runs the program and state becomes running")
def start_running(ctx: Ctx) -> None:
    cid, _ = ctx.create(_sleeper(ctx))
    ctx.start(cid)
    st = ctx.state(cid)
    expect_eq(st["status"], "running", "state.status after start")
    pid = st["pid"]
    cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    expect_eq(cmd[:3], [b"/checker", b"sleep", b"600"], f"cmdline of state.pid {pid}")


@check("runtime.md#lifecycle", "changes to config.json after create do not affect the container")
def config_change_after_create(ctx: Ctx) -> None:
    b = ctx.bundle("/checker", "echo", "original")
    cid, _ = ctx.create(b)
    b.set_args("/checker", "echo", "changed")
    b.write()
    ctx.start(cid)
    ctx.wait_stopped(cid)
    out = b.stdout()
    expect("echo=original" in out and "echo=changed" not in out, f"container ran the changed config: {out!r}")


@check("runtime.md#start", "start of a running container fails and has no effect")
def start_running_fails(ctx: Ctx) -> None:
    cid, _ = ctx.create(_sleeper(ctx))
    ctx.start(cid)
    pid = ctx.state(cid)["pid"]
    res = ctx.rt.start(cid)
    expect(not res.ok, "second start succeeded")
    st = ctx.state(cid)
    expect_eq((st["status"], st["pid"]), ("running", pid), "state after failed start")


@check("runtime.md#start", "start of a stopped container fails")
def start_stopped_fails(ctx: Ctx) -> None:
    b = ctx.bundle("/checker", "echo", "once")
    cid, _ = ctx.create(b)
    ctx.start(cid)
    ctx.wait_stopped(cid)
    res = ctx.rt.start(cid)
    expect(not res.ok, "start of a stopped container succeeded")
    expect_eq(b.stdout().count("echo=once"), 1, "times the program ran")
    expect_eq(ctx.state(cid)["status"], "stopped", "state.status")


@check("runtime.md#start", "start of an unknown container fails")
def start_unknown(ctx: Ctx) -> None:
    expect(not ctx.rt.start(ctx.suite.new_id()).ok, "start of a nonexistent id succeeded")


@check("runtime.md#query-state", "state of an unknown container fails")
def state_unknown(ctx: Ctx) -> None:
    expect(not ctx.rt.state(ctx.suite.new_id()).ok, "state of a nonexistent id succeeded")


@check("runtime.md#query-state", "state without a container id fails")
def state_no_id(ctx: Ctx) -> None:
    expect(not ctx.rt.call("state").ok, "state with no id succeeded")


@check("runtime.md#create", "create with an id already in use fails and leaves the first container alone")
def create_duplicate(ctx: Ctx) -> None:
    b1 = ctx.bundle("/checker", "echo", "first")
    cid, _ = ctx.create(b1)
    st1 = ctx.state(cid)
    b2 = ctx.bundle("/checker", "echo", "second")
    b2.write()
    res = ctx.rt.create(cid, b2.path, b2.stdio)
    expect(not res.ok, "second create with the same id succeeded")
    st2 = ctx.state(cid)
    expect_eq((st2["status"], st2["pid"], st2["bundle"]), (st1["status"], st1["pid"], st1["bundle"]),
              "first container's state after the duplicate create")
    ctx.start(cid)
    ctx.wait_stopped(cid)
    expect("echo=first" in b1.stdout(), "first container did not run its own program")


@check("runtime.md#create", "create without a container id fails")
def create_no_id(ctx: Ctx) -> None:
    b = ctx.bundle()
    b.write()
    res = ctx.rt.call("create", "--bundle", str(b.path), stdout=open(os.devnull, "w"),
                      stderr=open(os.devnull, "w"))
    expect(not res.ok, "create with no id succeeded")


@check("runtime.md#create", "create with a missing bundle fails and creates nothing")
def create_missing_bundle(ctx: Ctx) -> None:
    cid = ctx.suite.new_id()
    d = ctx.host_dir("nobundle")
    ctx.ids.append(cid)
    ctx.suite.live.add(cid)
    res = ctx.rt.create(cid, d / "does-not-exist", d)
    expect(not res.ok, "create with a nonexistent bundle succeeded")
    expect(not ctx.rt.state(cid).ok, "a container exists after the failed create")


@check("runtime.md#lifecycle", "create fails when the environment cannot be created and leaves nothing behind")
def create_unrealisable(ctx: Ctx) -> None:
    b = ctx.bundle()
    b.add_mount("/mnt", "bind", "/nonexistent/conformance/source", ["bind"])
    ctx.expect_create_error(b, "a bind mount whose source does not exist")


@check("runtime.md#kill", "kill delivers the named signal (SIGUSR1) to the container process")
def kill_named(ctx: Ctx) -> None:
    _kill_and_report(ctx, "SIGUSR1", 10)


@check("runtime.md#kill", "kill delivers a numeric signal (12) to the container process")
def kill_numeric(ctx: Ctx) -> None:
    _kill_and_report(ctx, "12", 12)


def _kill_and_report(ctx: Ctx, sig: str, num: int) -> None:
    b = ctx.bundle("/checker", "sigwait")
    cid, _ = ctx.create(b)
    ctx.start(cid)
    deadline = time.monotonic() + 10
    while "sigwait=ready" not in b.stdout():
        if time.monotonic() > deadline:
            raise Fail("checker never became ready to receive signals")
        time.sleep(0.01)
    res = ctx.rt.kill(cid, sig)
    expect(res.ok, f"kill failed: {res.describe()}")
    ctx.wait_stopped(cid)
    expect(f"signal={num}" in b.stdout(), f"container did not receive signal {num}: {b.stdout()!r}")


@check("runtime.md#kill", "after kill SIGKILL the status becomes stopped")
def kill_stops(ctx: Ctx) -> None:
    cid, _ = ctx.create(_sleeper(ctx))
    ctx.start(cid)
    pid = ctx.state(cid)["pid"]
    res = ctx.rt.kill(cid, "KILL")
    expect(res.ok, f"kill KILL failed: {res.describe()}")
    ctx.wait_stopped(cid)
    expect(not _pid_alive(pid), f"container process {pid} still alive")


@check("runtime.md#kill", "kill of a stopped container fails and has no effect")
def kill_stopped(ctx: Ctx) -> None:
    b = ctx.bundle("/checker", "echo", "x")
    cid, _ = ctx.create(b)
    ctx.start(cid)
    ctx.wait_stopped(cid)
    res = ctx.rt.kill(cid, "TERM")
    expect(not res.ok, "kill of a stopped container succeeded")
    expect_eq(ctx.state(cid)["status"], "stopped", "state.status after kill")


@check("runtime.md#kill", "kill of an unknown container fails")
def kill_unknown(ctx: Ctx) -> None:
    expect(not ctx.rt.kill(ctx.suite.new_id(), "TERM").ok, "kill of a nonexistent id succeeded")


@check("runtime.md#kill", "status becomes stopped when the process exits by itself")
def exits_stopped(ctx: Ctx) -> None:
    b = ctx.bundle("/checker", "exit", "0")
    cid, _ = ctx.create(b)
    ctx.start(cid)
    ctx.wait_stopped(cid)


@check("runtime.md#delete", "delete of a running container fails and leaves it running")
def delete_running(ctx: Ctx) -> None:
    cid, _ = ctx.create(_sleeper(ctx))
    ctx.start(cid)
    pid = ctx.state(cid)["pid"]
    res = ctx.rt.delete(cid)
    expect(not res.ok, "delete of a running container succeeded")
    st = ctx.state(cid)
    expect_eq((st["status"], st["pid"]), ("running", pid), "state after failed delete")
    expect(_pid_alive(pid), "container process died")


@check("runtime.md#delete", "delete of an unknown container fails")
def delete_unknown(ctx: Ctx) -> None:
    expect(not ctx.rt.delete(ctx.suite.new_id()).ok, "delete of a nonexistent id succeeded")


@check("runtime.md#delete", "delete of a stopped container removes it and frees its id")
def delete_stopped(ctx: Ctx) -> None:
    b = ctx.bundle("/checker", "echo", "first")
    cid, _ = ctx.create(b)
    ctx.start(cid)
    ctx.wait_stopped(cid)
    ctx.delete(cid)
    expect(not ctx.rt.state(cid).ok, "state still succeeds after delete")
    b.set_args("/checker", "echo", "second")
    ctx.create(b, cid=cid)
    ctx.start(cid)
    ctx.wait_stopped(cid)
    expect("echo=second" in b.stdout(), "the id could not be reused")


@check("runtime.md#delete", "delete keeps resources the container did not create (bundle, bind sources)")
def delete_keeps_bundle(ctx: Ctx) -> None:
    b = ctx.bundle("/checker", "echo", "x")
    src = ctx.host_dir("bindsrc")
    (src / "keep").write_text("keep\n")
    b.add_mount("/mnt", "bind", str(src), ["rbind"])
    ctx.run(b)
    expect((b.path / "config.json").is_file(), "config.json was removed")
    expect((b.rootfs / "checker").is_file(), "the rootfs was removed")
    expect((src / "keep").read_text() == "keep\n", "the bind-mount source was removed or changed")


@check("runtime.md#delete", "delete removes the container's cgroup")
def delete_cgroup(ctx: Ctx) -> None:
    from ..harness import cgroup_file
    b = ctx.bundle("/checker", "echo", "x")
    cid, _ = ctx.create(b)
    pid = ctx.state(cid)["pid"]
    path = cgroup_file(pid, "pids", "cgroup.procs").parent
    expect(path.is_dir(), f"cgroup {path} missing")
    ctx.start(cid)
    ctx.wait_stopped(cid)
    ctx.delete(cid)
    expect(not path.exists(), f"cgroup {path} still exists after delete")


@check("runtime.md#create", "--pid-file receives the container pid (runc-compatible CLI)")
def pid_file(ctx: Ctx) -> None:
    b = ctx.bundle()
    pf = ctx.host_dir("pid") / "container.pid"
    cid, _ = ctx.create(b, pid_file=pf)
    st = ctx.state(cid)
    expect(pf.is_file(), "pid file not written")
    expect_eq(pf.read_text().strip(), str(st["pid"]), "pid file content vs state.pid")


@check("config.md#process", "the container's exit status is returned by run (runc-compatible CLI)")
def exit_status(ctx: Ctx) -> None:
    b = ctx.bundle("/checker", "exit", "7")
    b.write()
    ctx.ids.append(b.id)
    ctx.suite.live.add(b.id)
    res = ctx.rt.run(b.id, b.path, b.stdio)
    if res.rc == 7:
        return
    if "run" in res.stderr and ("unknown" in res.stderr.lower() or "usage" in res.stderr.lower()):
        raise Skip("runtime has no runc-compatible run command")
    raise Fail(f"run returned {res.rc}, want the container's exit status 7")


@check("runtime.md#kill", "kill of a created container delivers the signal (KILL stops it)")
def kill_created(ctx: Ctx) -> None:
    b = ctx.bundle("/checker", "echo", "ran")
    cid, _ = ctx.create(b)
    pid = ctx.state(cid)["pid"]
    res = ctx.rt.kill(cid, "KILL")
    expect(res.ok, f"kill of a created container failed: {res.describe()}")
    ctx.wait_stopped(cid)
    expect(not _pid_alive(pid), f"container process {pid} still alive")
    expect("echo=ran" not in b.stdout(), "the user program ran although start was never called")


@check("runtime.md#delete", "delete of a created (not stopped) container fails and has no effect")
def delete_created(ctx: Ctx) -> None:
    b = ctx.bundle("/checker", "echo", "ran")
    cid, _ = ctx.create(b)
    pid = ctx.state(cid)["pid"]
    res = ctx.rt.delete(cid)
    expect(not res.ok, "delete of a created container succeeded")
    st = ctx.state(cid)
    expect_eq((st["status"], st["pid"]), ("created", pid), "state after the failed delete")
    ctx.start(cid)
    ctx.wait_stopped(cid)
    expect("echo=ran" in b.stdout(), "the container no longer starts after the failed delete")


@check("runtime.md#start", "start fails when the config has no process")
def start_without_process(ctx: Ctx) -> None:
    b = ctx.bundle()
    del b.config["process"]
    cid, res = ctx.create(b, expect_ok=False)
    if not res.ok:
        return  # rejected even earlier, at create: an error was generated
    res = ctx.rt.start(cid)
    expect(not res.ok, "start succeeded for a container without process")
