"""config-linux.md#sysctl and #seccomp."""
from __future__ import annotations

import os
from typing import Any

from ..harness import Ctx, Output, Skip, check, expect_eq

ARCHES = {"x86_64": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
          "aarch64": ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]}


def _seccomp(syscalls: list[dict[str, Any]]) -> dict[str, Any]:
    arch = ARCHES.get(os.uname().machine)
    if arch is None:
        raise Skip(f"no seccomp architecture list for {os.uname().machine}")
    return {"defaultAction": "SCMP_ACT_ALLOW", "architectures": arch, "syscalls": syscalls}


@check("config-linux.md#sysctl", "sysctl values are set in the container's namespaces")
def sysctl(ctx: Ctx) -> None:
    b = ctx.bundle()
    b.linux["sysctl"] = {"net.ipv4.ip_forward": "1", "kernel.msgmax": "4321"}
    out = ctx.probe(b, ["file", "/proc/sys/net/ipv4/ip_forward"], ["file", "/proc/sys/kernel/msgmax"])
    expect_eq(out.need("file./proc/sys/net/ipv4/ip_forward").strip(), "1", "net.ipv4.ip_forward")
    expect_eq(out.need("file./proc/sys/kernel/msgmax").strip(), "4321", "kernel.msgmax")


@check("config-linux.md#seccomp", "SCMP_ACT_ERRNO without errnoRet fails the syscall with EPERM; filter mode is on")
def seccomp_errno_default(ctx: Ctx) -> None:
    ctx.require_seccomp("SCMP_ACT_ERRNO")
    b = ctx.bundle()
    b.linux["seccomp"] = _seccomp([{"names": ["sysinfo"], "action": "SCMP_ACT_ERRNO"}])
    out = ctx.probe(b, ["syscall", "sysinfo"], ["syscall", "getpgid", "0"], ["status"])
    expect_eq(out.need("syscall.sysinfo"), "ERR EPERM", "sysinfo()")
    expect_eq(out.need("syscall.getpgid.0"), "OK", "getpgid(0), not in the filter")
    expect_eq(out.need("status.Seccomp"), "2", "Seccomp mode in /proc/self/status")


@check("config-linux.md#seccomp", "errnoRet sets the errno of SCMP_ACT_ERRNO")
def seccomp_errno_ret(ctx: Ctx) -> None:
    ctx.require_seccomp("SCMP_ACT_ERRNO")
    b = ctx.bundle()
    b.linux["seccomp"] = _seccomp([{"names": ["sysinfo"], "action": "SCMP_ACT_ERRNO", "errnoRet": 18}])
    out = ctx.probe(b, ["syscall", "sysinfo"])
    expect_eq(out.need("syscall.sysinfo"), "ERR EXDEV", "sysinfo() with errnoRet 18")


@check("config-linux.md#seccomp", "args with SCMP_CMP_EQ restrict the rule to matching calls")
def seccomp_args(ctx: Ctx) -> None:
    ctx.require_seccomp("SCMP_ACT_ERRNO", "SCMP_CMP_EQ")
    b = ctx.bundle()
    b.linux["seccomp"] = _seccomp([{"names": ["getpgid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 18,
                                    "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]}])
    out = ctx.probe(b, ["syscall", "getpgid", "1"], ["syscall", "getpgid", "0"])
    expect_eq(out.need("syscall.getpgid.1"), "ERR EXDEV", "getpgid(1), matching the rule")
    expect_eq(out.need("syscall.getpgid.0"), "OK", "getpgid(0), not matching the rule")


@check("config-linux.md#seccomp", "SCMP_ACT_KILL kills the process at the filtered syscall")
def seccomp_kill(ctx: Ctx) -> None:
    ctx.require_seccomp("SCMP_ACT_KILL")
    b = ctx.bundle("/checker", "echo", "before", ",", "syscall", "sysinfo", ",", "echo", "after")
    b.linux["seccomp"] = _seccomp([{"names": ["sysinfo"], "action": "SCMP_ACT_KILL"}])
    cid, _ = ctx.create(b)
    ctx.start(cid)
    ctx.wait_stopped(cid)
    out = Output.parse(b.stdout())
    expect_eq(out.get("echo"), "before", "last line printed (the process must die at sysinfo)")


@check("config-linux.md#seccomp", "names lists several syscalls for one rule")
def seccomp_names(ctx: Ctx) -> None:
    ctx.require_seccomp("SCMP_ACT_ERRNO")
    b = ctx.bundle()
    b.linux["seccomp"] = _seccomp([{"names": ["sysinfo", "getpriority"], "action": "SCMP_ACT_ERRNO",
                                    "errnoRet": 18}])
    out = ctx.probe(b, ["syscall", "sysinfo"], ["syscall", "getpriority"])
    expect_eq(out.need("syscall.sysinfo"), "ERR EXDEV", "sysinfo()")
    expect_eq(out.need("syscall.getpriority"), "ERR EXDEV", "getpriority()")
