"""config.md#process and friends: args, env, cwd, user, umask, rlimits,
capabilities, noNewPrivileges, oomScoreAdj, hostname, domainname, scheduling."""
from __future__ import annotations

import os

from ..harness import Ctx, Skip, check, expect, expect_eq

CAPS = {name: i for i, name in enumerate([
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
    "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE"])}


def capmask(names: list[str]) -> int:
    m = 0
    for n in names:
        m |= 1 << CAPS[n]
    return m


def _caps_of(out: dict[str, str]) -> dict[str, int]:
    return {k: int(out[f"status.Cap{k}"], 16) for k in ("Bnd", "Eff", "Prm", "Inh", "Amb")}


def _names(mask: int) -> str:
    return ",".join(n for n, i in CAPS.items() if mask >> i & 1) or "(none)"


@check("config.md#process", "args are passed to the process exactly")
def args_exact(ctx: Ctx) -> None:
    b = ctx.bundle()
    argv = ["/checker", "args", ",", "echo", "with space", ",", "echo", "", ",", "echo", "ünï\tcode"]
    b.set_args(*argv)
    out = ctx.run(b)
    got = [out.get(f"argv.{i}") for i in range(int(out.need("argv.count")))]
    expect_eq(got, argv, "argv seen by the process")


@check("config.md#process", "args[0] is resolved with execvp semantics using the process PATH")
def args_path_lookup(ctx: Ctx) -> None:
    b = ctx.bundle("checker", "echo", "found")
    b.process["env"] = ["PATH=/nonexistent:/bin"]
    out = ctx.run(b)
    expect_eq(out.get("echo"), "found", "output of the PATH-resolved program")


@check("config.md#process", "env variables are set in the process environment")
def env_set(ctx: Ctx) -> None:
    b = ctx.bundle()
    env = ["PATH=/bin", "CONFORMANCE_A=1", "CONFORMANCE_B=with space=and equals", "EMPTY="]
    b.process["env"] = env
    out = ctx.probe(b, ["env"])
    got = [out[f"env.{i}"] for i in range(int(out.need("env.count")))]
    missing = [e for e in env if e not in got]
    expect(not missing, f"missing from the environment: {missing}; got {got}")


@check("config.md#process", "cwd is the working directory of the process")
def cwd_set(ctx: Ctx) -> None:
    b = ctx.bundle()
    (b.rootfs / "var" / "work dir").mkdir(parents=True)
    b.process["cwd"] = "/var/work dir"
    out = ctx.probe(b, ["cwd"])
    expect_eq(out.need("cwd"), "/var/work dir", "getcwd()")


@check("config.md#user", "uid and gid set the real, effective, saved and fs ids")
def user_ids(ctx: Ctx) -> None:
    b = ctx.bundle()
    b.process["user"] = {"uid": 1234, "gid": 2345}
    out = ctx.probe(b, ["status"])
    expect_eq(out.need("status.Uid"), "1234 1234 1234 1234", "Uid in /proc/self/status")
    expect_eq(out.need("status.Gid"), "2345 2345 2345 2345", "Gid in /proc/self/status")


@check("config.md#user", "additionalGids are the supplementary groups")
def user_additional_gids(ctx: Ctx) -> None:
    b = ctx.bundle()
    b.process["user"] = {"uid": 1234, "gid": 2345, "additionalGids": [5, 3000, 4000]}
    out = ctx.probe(b, ["status"])
    expect_eq(sorted(out.need("status.Groups").split()), ["3000", "4000", "5"], "Groups")


@check("config.md#user", "no additionalGids means no supplementary groups")
def user_no_groups(ctx: Ctx) -> None:
    b = ctx.bundle()
    b.process["user"] = {"uid": 1234, "gid": 2345}
    out = ctx.probe(b, ["status"])
    expect_eq(out.need("status.Groups").split(), [], "Groups")


@check("config.md#user", "umask is applied to the process", since="1.1.0")
def umask_set(ctx: Ctx) -> None:
    b = ctx.bundle()
    b.process["user"]["umask"] = 0o027
    out = ctx.probe(b, ["umask"])
    expect_eq(out.need("umask"), "0027", "umask")


@check("config.md#user", "without umask the process keeps the caller's umask (SHOULD)", since="1.1.0")
def umask_inherited(ctx: Ctx) -> None:
    b = ctx.bundle()
    out = ctx.probe(b, ["umask"], umask=0o037)
    expect_eq(out.need("umask"), "0037", "umask (runtime invoked with umask 0037)")


@check("config.md#posix-process", "rlimits set the soft and hard limits")
def rlimits_set(ctx: Ctx) -> None:
    b = ctx.bundle()
    b.process["rlimits"] = [
        {"type": "RLIMIT_NOFILE", "soft": 321, "hard": 654},
        {"type": "RLIMIT_CORE", "soft": 4096, "hard": 8192},
        {"type": "RLIMIT_MSGQUEUE", "soft": 1000, "hard": 2000},
    ]
    out = ctx.probe(b, ["rlimits"])
    for rl in b.process["rlimits"]:
        expect_eq(out.need(f"rlimit.{rl['type']}"), f"{rl['soft']} {rl['hard']}", rl["type"])


@check("config.md#posix-process", "duplicate rlimits types are an error")
def rlimits_duplicate(ctx: Ctx) -> None:
    b = ctx.bundle()
    b.process["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 100, "hard": 100},
                            {"type": "RLIMIT_NOFILE", "soft": 200, "hard": 200}]
    ctx.expect_create_error(b, "RLIMIT_NOFILE listed twice")


@check("config.md#posix-process", "an rlimit type that maps to no kernel limit is an error")
def rlimits_unknown(ctx: Ctx) -> None:
    b = ctx.bundle()
    b.process["rlimits"] = [{"type": "RLIMIT_CONFORMANCE_BOGUS", "soft": 1, "hard": 1}]
    ctx.expect_create_error(b, "unknown rlimit type")


@check("config.md#linux-process", "noNewPrivileges true sets no_new_privs")
def nnp_true(ctx: Ctx) -> None:
    b = ctx.bundle()
    b.process["noNewPrivileges"] = True
    out = ctx.probe(b, ["status"])
    expect_eq(out.need("status.NoNewPrivs"), "1", "NoNewPrivs")


@check("config.md#linux-process", "noNewPrivileges false leaves no_new_privs unset")
def nnp_false(ctx: Ctx) -> None:
    b = ctx.bundle()
    b.process["noNewPrivileges"] = False
    out = ctx.probe(b, ["status"])
    expect_eq(out.need("status.NoNewPrivs"), "0", "NoNewPrivs")


@check("config.md#linux-process", "capabilities of a root process: bounding, effective, permitted; empty inheritable and ambient")
def caps_root(ctx: Ctx) -> None:
    b = ctx.bundle()
    s = ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_SETUID", "CAP_SETGID", "CAP_AUDIT_WRITE"]
    b.process["capabilities"] = {"bounding": s, "effective": s, "permitted": s,
                                 "inheritable": [], "ambient": []}
    out = ctx.probe(b, ["status"])
    got = _caps_of(out)
    want = {"Bnd": capmask(s), "Eff": capmask(s), "Prm": capmask(s), "Inh": 0, "Amb": 0}
    for k in want:
        expect(got[k] == want[k], f"Cap{k}: got {_names(got[k])}, want {_names(want[k])}")


@check("config.md#linux-process", "capabilities of a non-root process: all five sets, ambient raised")
def caps_nonroot_ambient(ctx: Ctx) -> None:
    b = ctx.bundle()
    bnd = ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW", "CAP_SETUID", "CAP_SETGID"]
    amb = ["CAP_NET_BIND_SERVICE", "CAP_KILL"]
    b.process["user"] = {"uid": 1000, "gid": 1000}
    b.process["noNewPrivileges"] = False
    b.process["capabilities"] = {"bounding": bnd, "effective": amb, "permitted": amb,
                                 "inheritable": amb, "ambient": amb}
    out = ctx.probe(b, ["status"])
    got = _caps_of(out)
    want = {"Bnd": capmask(bnd), "Eff": capmask(amb), "Prm": capmask(amb), "Inh": capmask(amb),
            "Amb": capmask(amb)}
    for k in want:
        expect(got[k] == want[k], f"Cap{k}: got {_names(got[k])}, want {_names(want[k])}")


@check("config.md#linux-process", "capabilities not listed in bounding are dropped from the bounding set")
def caps_bounding_minimal(ctx: Ctx) -> None:
    b = ctx.bundle()
    b.process["capabilities"] = {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"],
                                 "permitted": ["CAP_KILL"]}
    out = ctx.probe(b, ["status"])
    got = _caps_of(out)
    expect(got["Bnd"] == capmask(["CAP_KILL"]), f"CapBnd: got {_names(got['Bnd'])}, want CAP_KILL")
    expect(got["Eff"] == capmask(["CAP_KILL"]), f"CapEff: got {_names(got['Eff'])}, want CAP_KILL")


@check("config.md#linux-process", "oomScoreAdj is written to the process's oom_score_adj")
def oom_score_adj(ctx: Ctx) -> None:
    b = ctx.bundle()
    b.process["oomScoreAdj"] = 345
    out = ctx.probe(b, ["oom"])
    expect_eq(out.need("file./proc/self/oom_score_adj").strip(), "345", "oom_score_adj")


@check("config.md#hostname", "hostname is the container's hostname")
def hostname(ctx: Ctx) -> None:
    b = ctx.bundle()
    b.config["hostname"] = "conformance-host"
    out = ctx.probe(b, ["uname"])
    expect_eq(out.need("hostname"), "conformance-host", "uname nodename")


@check("config.md#domainname", "domainname is the container's NIS domain name", since="1.1.0")
def domainname(ctx: Ctx) -> None:
    b = ctx.bundle()
    b.config["domainname"] = "conformance.example"
    out = ctx.probe(b, ["uname"])
    expect_eq(out.need("domainname"), "conformance.example", "uname domainname")


@check("runtime-linux.md#file-descriptors", "only stdin, stdout and stderr are open in the process")
def fds_only_stdio(ctx: Ctx) -> None:
    b = ctx.bundle()
    leak = os.open(os.devnull, os.O_RDONLY)  # inheritable fd handed to the runtime
    try:
        os.set_inheritable(leak, True)
        out = ctx.probe(b, ["fds"], pass_fds=(leak,))
    finally:
        os.close(leak)
    expect_eq(out.need("fds").split(), ["0", "1", "2"], f"open fds ({ {k: v for k, v in out.items() if k.startswith('fd.')} })")


@check("config.md#linux-process", "ioPriority sets the I/O scheduling class and priority", since="1.1.0")
def io_priority(ctx: Ctx) -> None:
    b = ctx.bundle()
    b.process["ioPriority"] = {"class": "IOPRIO_CLASS_BE", "priority": 6}
    out = ctx.probe(b, ["sched"])
    expect_eq(out.need("ioprio"), "class=2 level=6", "ioprio_get")


@check("config.md#linux-process", "scheduler sets the scheduling policy and nice value", since="1.2.0")
def scheduler(ctx: Ctx) -> None:
    b = ctx.bundle()
    b.process["scheduler"] = {"policy": "SCHED_BATCH", "nice": 7}
    out = ctx.probe(b, ["sched"])
    expect_eq((out.need("sched.policy"), out.need("sched.nice")), ("3", "7"), "(policy, nice)")


@check("config.md#linux-process", "execCPUAffinity.final is the process's CPU affinity", since="1.2.0")
def exec_cpu_affinity(ctx: Ctx) -> None:
    if (os.cpu_count() or 1) < 2:
        raise Skip("needs at least 2 CPUs")
    b = ctx.bundle()
    b.process["execCPUAffinity"] = {"final": "1"}
    out = ctx.probe(b, ["sched"])
    expect_eq(out.need("sched.affinity"), "1", "sched_getaffinity")


@check("config-linux.md#personality", "personality LINUX32 makes uname report a 32-bit machine", since="1.1.0")
def personality(ctx: Ctx) -> None:
    if os.uname().machine not in ("x86_64", "aarch64"):
        raise Skip("needs an x86_64 or aarch64 host")
    b = ctx.bundle()
    b.linux["personality"] = {"domain": "LINUX32"}
    out = ctx.probe(b, ["uname"], ["sched"])
    expect_eq(out.need("personality"), "0x8", "personality()")
    expect(out.need("machine") in ("i686", "armv8l", "armv7l"), f"uname machine {out['machine']!r}")
