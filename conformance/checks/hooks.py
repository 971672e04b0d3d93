"""config.md#posix-platform-hooks and the hook steps of runtime.md#lifecycle.

Every hook is the checker in hook mode: it appends its name to LOG/order and
writes LOG/<name>.out (state from stdin, namespaces, argv, env).  LOG is
bind-mounted into the container at the same absolute path, so hooks running
in either namespace can write it."""
from __future__ import annotations

import json
import os
import time
from typing import Any

from ..bundle import Bundle
from ..harness import Ctx, Fail, Output, check, expect, expect_eq

RUNTIME_NS_HOOKS = ("prestart", "createRuntime", "poststart", "poststop")
CONTAINER_NS_HOOKS = ("createContainer", "startContainer")
ALL_HOOKS = ("prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop")


class HookBundle:
    def __init__(self, ctx: Ctx) -> None:
        self.ctx = ctx
        self.b: Bundle = ctx.bundle()
        self.log = ctx.host_dir("hooklog").resolve()
        (self.b.rootfs / str(self.log).lstrip("/")).mkdir(parents=True, exist_ok=True)
        self.b.add_mount(str(self.log), "bind", str(self.log), ["rbind", "rw"])
        self.b.config["hooks"] = {}
        # the user process records itself in the same log
        self.b.set_args("/checker", "hook", "process", str(self.log))

    def add(self, kind: str, name: str | None = None, env: list[str] | None = None,
            timeout: int | None = None, extra_args: list[str] | None = None) -> dict[str, Any]:
        name = name or kind
        # startContainer's path resolves in the container namespace; the
        # others' in the runtime namespace.
        path = "/checker" if kind == "startContainer" else str(self.b.rootfs / "checker")
        hook: dict[str, Any] = {"path": path,
                                "args": ["checker", "hook", name, str(self.log), *(extra_args or [])],
                                "env": env if env is not None else ["CONFORMANCE_HOOK=" + name]}
        if timeout is not None:
            hook["timeout"] = timeout
        self.b.config["hooks"].setdefault(kind, []).append(hook)
        return hook

    def order(self) -> list[str]:
        try:
            return (self.log / "order").read_text().split()
        except FileNotFoundError:
            return []

    def out(self, name: str) -> Output:
        p = self.log / f"{name}.out"
        if not p.exists():
            raise Fail(f"hook {name} did not run (order so far: {self.order()})")
        return Output.parse(p.read_text())

    def wait_for(self, name: str, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while name not in self.order():
            if time.monotonic() > deadline:
                raise Fail(f"{name} never recorded itself (order: {self.order()})")
            time.sleep(0.01)


def _all_hooks(ctx: Ctx) -> HookBundle:
    ctx.require_hooks(*ALL_HOOKS)
    hb = HookBundle(ctx)
    for kind in ALL_HOOKS:
        hb.add(kind)
    return hb


@check("runtime.md#lifecycle", "hooks run in order: prestart, createRuntime, createContainer at create; startContainer, process, poststart at start; poststop at delete")
def hooks_order(ctx: Ctx) -> None:
    hb = _all_hooks(ctx)
    cid, _ = ctx.create(hb.b)
    expect_eq(hb.order(), ["prestart", "createRuntime", "createContainer"], "hooks run by create")
    ctx.start(cid)
    after_start = hb.order()
    expect("poststart" in after_start, f"poststart did not run before start returned: {after_start}")
    hb.wait_for("process")
    got = hb.order()
    expect_eq(got[:4], ["prestart", "createRuntime", "createContainer", "startContainer"], "hook order")
    expect(got.index("startContainer") < got.index("process"), f"startContainer ran after the process: {got}")
    ctx.wait_stopped(cid)
    expect("poststop" not in hb.order(), "poststop ran before delete")
    ctx.delete(cid)
    expect_eq(hb.order()[-1], "poststop", "last hook after delete")
    expect_eq(sorted(hb.order()), sorted(list(ALL_HOOKS) + ["process"]), "hooks run exactly once each")


@check("config.md#posix-platform-hooks", "hooks receive the container state on stdin (id, bundle, pid, status)")
def hooks_state(ctx: Ctx) -> None:
    hb = _all_hooks(ctx)
    cid, _ = ctx.create(hb.b)
    pid = ctx.state(cid)["pid"]
    ctx.start(cid)
    hb.wait_for("process")
    ctx.wait_stopped(cid)
    ctx.delete(cid)
    want_status = {"prestart": {"created", "creating"}, "createRuntime": {"created", "creating"},
                   "createContainer": {"created", "creating"}, "startContainer": {"created"},
                   "poststart": {"running", "stopped"}, "poststop": {"stopped"}}
    for kind in ALL_HOOKS:
        raw = hb.out(kind).need("stdin")
        try:
            st = json.loads(raw)
        except ValueError:
            raise Fail(f"{kind} hook stdin is not JSON: {raw[:200]!r}") from None
        expect_eq(st.get("id"), cid, f"{kind} state.id")
        expect(isinstance(st.get("ociVersion"), str), f"{kind} state lacks ociVersion")
        expect_eq(os.path.realpath(str(st.get("bundle"))), os.path.realpath(hb.b.path), f"{kind} state.bundle")
        # poststart's status is left to the order check (a runtime running
        # poststart too early fails there, not here)
        expect(kind == "poststart" or st.get("status") in want_status[kind],
               f"{kind} state.status {st.get('status')!r}, want one of {sorted(want_status[kind])}")
        # runtime.md#state: the pid as seen by the runtime for hooks run in the
        # runtime namespace, as seen by the container for the others
        if kind in CONTAINER_NS_HOOKS:
            expect_eq(st.get("pid"), 1, f"{kind} state.pid (container pid namespace)")
        elif kind != "poststop":
            expect_eq(st.get("pid"), pid, f"{kind} state.pid")


@check("config.md#posix-platform-hooks", "prestart, createRuntime, poststart and poststop run in the runtime namespace")
def hooks_runtime_ns(ctx: Ctx) -> None:
    hb = _all_hooks(ctx)
    cid, _ = ctx.create(hb.b)
    ctx.start(cid)
    hb.wait_for("process")
    ctx.wait_stopped(cid)
    ctx.delete(cid)
    for kind in RUNTIME_NS_HOOKS:
        o = hb.out(kind)
        for ns, t in (("mnt", "mount"), ("uts", "uts"), ("pid", "pid")):
            expect_eq(o.need(f"ns.{ns}"), ctx.suite.host_ns[t], f"{kind} hook {ns} namespace")


@check("config.md#posix-platform-hooks", "createContainer and startContainer run in the container namespace")
def hooks_container_ns(ctx: Ctx) -> None:
    hb = _all_hooks(ctx)
    cid, _ = ctx.create(hb.b)
    pid = ctx.state(cid)["pid"]
    container = {ns: os.readlink(f"/proc/{pid}/ns/{ns}") for ns in ("mnt", "uts", "ipc", "net")}
    ctx.start(cid)
    hb.wait_for("process")
    ctx.wait_stopped(cid)
    ctx.delete(cid)
    for kind in CONTAINER_NS_HOOKS:
        o = hb.out(kind)
        for ns, want in container.items():
            expect_eq(o.need(f"ns.{ns}"), want, f"{kind} hook {ns} namespace")


@check("config.md#posix-platform-hooks", "hooks get exactly their args and env")
def hooks_args_env(ctx: Ctx) -> None:
    ctx.require_hooks("createRuntime")
    hb = HookBundle(ctx)
    env = ["CONFORMANCE_A=1", "CONFORMANCE_B=two words", "PATH=/nowhere"]
    hook = hb.add("createRuntime", env=env, extra_args=["x y", ""])
    cid, _ = ctx.create(hb.b)
    o = hb.out("createRuntime")
    got_args = [o[f"argv.{i}"] for i in range(int(o.need("argv.count")))]
    expect_eq(got_args, hook["args"], "hook argv")
    got_env = [o[f"env.{i}"] for i in range(int(o.need("env.count")))]
    expect_eq(sorted(got_env), sorted(env), "hook environment")


@check("config.md#posix-platform-hooks", "several hooks of one kind run in the listed order")
def hooks_same_kind_order(ctx: Ctx) -> None:
    ctx.require_hooks("createRuntime")
    hb = HookBundle(ctx)
    for n in ("first", "second", "third"):
        hb.add("createRuntime", name=n)
    ctx.create(hb.b)
    expect_eq(hb.order(), ["first", "second", "third"], "createRuntime hook order")


@check("runtime.md#lifecycle", "a failing createRuntime hook makes create fail and leaves no container")
def hook_create_runtime_fails(ctx: Ctx) -> None:
    ctx.require_hooks("createRuntime")
    hb = HookBundle(ctx)
    hb.add("createRuntime", env=["CONFORMANCE_HOOK_EXIT=3"])
    ctx.expect_create_error(hb.b, "the createRuntime hook exited 3")
    expect("process" not in hb.order(), "the user process ran")


@check("runtime.md#lifecycle", "a failing prestart hook makes create fail and leaves no container")
def hook_prestart_fails(ctx: Ctx) -> None:
    ctx.require_hooks("prestart")
    hb = HookBundle(ctx)
    hb.add("prestart", env=["CONFORMANCE_HOOK_EXIT=3"])
    ctx.expect_create_error(hb.b, "the prestart hook exited 3")


@check("runtime.md#lifecycle", "a failing startContainer hook makes start fail and the process does not run")
def hook_start_container_fails(ctx: Ctx) -> None:
    ctx.require_hooks("startContainer")
    hb = HookBundle(ctx)
    hb.add("startContainer", env=["CONFORMANCE_HOOK_EXIT=3"])
    cid, _ = ctx.create(hb.b)
    res = ctx.rt.start(cid)
    expect(not res.ok, "start succeeded although the startContainer hook failed")
    time.sleep(0.2)
    expect("process" not in hb.order(), f"the user process ran: {hb.order()}")


@check("runtime.md#lifecycle", "a failing poststart hook is an error and the container is stopped (runtime-spec 1.3.0)")
def hook_poststart_fails(ctx: Ctx) -> None:
    # 1.3.0, lifecycle step 9: "If any poststart hook fails, the runtime MUST
    # generate an error, stop the container, and continue the lifecycle at
    # step 12." (v1.0.2-1.1 said: log a warning and go on.)
    ctx.require_hooks("poststart")
    hb = HookBundle(ctx)
    hb.add("poststart", env=["CONFORMANCE_HOOK_EXIT=3"])
    cid, _ = ctx.create(hb.b)
    res = ctx.rt.start(cid)
    expect(not res.ok, "start succeeded although a poststart hook failed")
    st = ctx.wait_stopped(cid)
    expect(st.get("status") == "stopped", f"the container was not stopped: {st}")


@check("runtime.md#lifecycle", "a failing poststop hook only warns: delete succeeds")
def hook_poststop_fails(ctx: Ctx) -> None:
    ctx.require_hooks("poststop")
    hb = HookBundle(ctx)
    hb.add("poststop", env=["CONFORMANCE_HOOK_EXIT=3"])
    hb.add("poststop", name="poststop2")
    cid, _ = ctx.create(hb.b)
    ctx.start(cid)
    ctx.wait_stopped(cid)
    ctx.delete(cid)
    expect(not ctx.rt.state(cid).ok, "container still exists after delete")
    expect("poststop2" in hb.order(), f"the hook after the failing one did not run: {hb.order()}")


@check("config.md#posix-platform-hooks", "a hook exceeding its timeout is aborted and create fails")
def hook_timeout(ctx: Ctx) -> None:
    ctx.require_hooks("createRuntime")
    hb = HookBundle(ctx)
    hb.add("createRuntime", env=["CONFORMANCE_HOOK_SLEEP=20"], timeout=1)
    cid, res = ctx.create(hb.b, expect_ok=False, timeout=15)
    expect(not res.ok, "create succeeded although the hook exceeded its timeout")
    expect(not ctx.rt.state(cid).ok, "container left behind after the hook timeout")
