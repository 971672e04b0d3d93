"""The plan pieces for runc's process-side behaviour (issue 13 items 3-6,
issue 19 item 5), checked without running them: lo brought up only in a new
network namespace, a missing cwd created after pivot_root, the two chdirs,
stdio handed to the user and HOME read from /etc/passwd by the init (run and
exec).  The integration tests compare the results with runc."""
from __future__ import annotations

import pytest

from pyrunc.linux import ops as o
from pyrunc.linux.exec_plan import ExecContext, build_exec_plan
from pyrunc.linux.plan import PlanContext, build_plan, home_from_passwd
from pyrunc.spec.default import default_spec


def spec(**process) -> dict:
    c = default_spec()
    c["process"]["terminal"] = False
    c["process"].update(process)
    return c


def plan(c: dict | None = None, **kw):
    return build_plan(PlanContext(config=c or spec(), bundle="/b", container_id="c1", fifo_fds=(7, 8),
                                  probe=lambda p: "dir", host_has_kcore=False, **kw))


def exec_plan(process: dict, console_fd: int | None = None, seccomp: dict | None = None):
    config = {"ociVersion": "1.3.0", "root": {"path": "rootfs"},
              "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}]}}
    if seccomp:
        config["linux"]["seccomp"] = seccomp
    return build_exec_plan(ExecContext(config=config, process=process, init_pid=1, container_id="c",
                                       console_fd=console_fd))


def names(p) -> list[str]:
    return [o.NAMES[op[0]] for op in p.ops]


def test_loopback_up_only_in_a_new_network_namespace():
    seq = names(plan())
    assert seq.count("OP_LOOPBACK_UP") == 1
    # early in the init, like runc's setupNetwork: before sysctls and mounts
    assert seq.index("OP_SETSID") < seq.index("OP_LOOPBACK_UP") < seq.index("OP_ROOTFS")
    joined = spec()
    for n in joined["linux"]["namespaces"]:
        if n["type"] == "network":
            n["path"] = "/proc/1/ns/net"
    assert "OP_LOOPBACK_UP" not in names(plan(joined))
    none = spec()
    none["linux"]["namespaces"] = [n for n in none["linux"]["namespaces"] if n["type"] != "network"]
    assert "OP_LOOPBACK_UP" not in names(plan(none))


@pytest.mark.parametrize("umask,mode", [(0o022, "755"), (0o027, "750"), (0o077, "700")])
def test_missing_cwd_is_made_after_pivot_before_the_root_turns_read_only(umask, mode):
    c = spec(cwd="/srv/app")
    c["root"]["readonly"] = True
    p = plan(c, caller_umask=umask)
    seq = names(p)
    assert (o.OP_MKCWD, "/srv/app", mode) in p.ops  # runc: MkdirAll(cwd, 0755) under the caller's umask
    assert seq.index("OP_PIVOT") < seq.index("OP_MKCWD") < seq.index("OP_READONLY_PATH") < seq.index("OP_ROOT_READONLY")
    assert "OP_MKCWD" not in names(plan(spec(cwd="/")))


def test_exec_never_creates_the_cwd():
    assert o.OP_MKCWD not in [op[0] for op in exec_plan({"args": ["true"], "cwd": "/x"}).ops]


def _identity_checks(p, uid: int) -> None:
    seq = names(p)
    cwds = [i for i, n in enumerate(seq) if n == "OP_CWD"]
    early, late = (p.ops[i] for i in cwds)
    assert early[2] == 1 and len(late) == 2  # (OP_CWD, path, 1) as root; (OP_CWD, path) after the switch
    assert cwds[0] < seq.index("OP_SETGID") < seq.index("OP_SETUID") < cwds[1] < seq.index("OP_FIND_EXEC")
    if "OP_CAPBSET" in seq:
        assert cwds[0] < seq.index("OP_CAPBSET")  # runc: before the bounding set
    # stdio to the user, HOME read, both while still root
    assert (o.OP_FIX_STDIO, uid) in p.ops
    assert seq.index("OP_FIX_STDIO") < seq.index("OP_SETGID")
    if "OP_CONSOLE" in seq:
        assert seq.index("OP_CONSOLE") < seq.index("OP_FIX_STDIO")  # the pty exists by then


def test_create_plan_chdirs_twice_and_hands_stdio_to_the_user():
    _identity_checks(plan(spec(cwd="/root700", user={"uid": 1000, "gid": 1000})), 1000)
    p = plan(spec(terminal=True, user={"uid": 1000, "gid": 1000}), console_fd=9)
    _identity_checks(p, 1000)


def test_exec_plan_chdirs_twice_and_hands_stdio_to_the_user():
    proc = {"args": ["sh"], "env": ["PATH=/bin"], "cwd": "/root700", "user": {"uid": 7, "gid": 7},
            "terminal": True}
    _identity_checks(exec_plan(proc, console_fd=9), 7)


@pytest.mark.parametrize("env,kept,needed", [
    (["PATH=/bin"], ["PATH=/bin"], True),
    (["HOME=", "PATH=/bin"], ["PATH=/bin"], True),  # empty counts as none (runc's os.Getenv == "")
    (["HOME=/x", "PATH=/bin"], ["HOME=/x", "PATH=/bin"], False),
    (["HOME=/x", "HOME="], [], True),  # the last one counts (runc sets each in turn)
    (["HOME=", "HOME=/y"], ["HOME=", "HOME=/y"], False),
    (["HOMEDIR=/z"], ["HOMEDIR=/z"], True),
])
def test_home_from_passwd_decision(env, kept, needed):
    assert home_from_passwd(env) == (kept, needed)


def test_home_is_left_to_the_init():
    p = plan(spec(user={"uid": 1000, "gid": 1000}, env=["PATH=/bin"]))
    assert (o.OP_HOME, 1000) in p.ops
    assert names(p).index("OP_HOME") < names(p).index("OP_SETUID")
    assert not any(e.startswith(b"HOME=") for e in p.ops[-1][2].split(b"\0"))
    kept = plan(spec(env=["PATH=/bin", "HOME=/mine"]))
    assert "OP_HOME" not in names(kept) and b"HOME=/mine\0" in kept.ops[-1][2]
    e = exec_plan({"args": ["sh"], "env": ["PATH=/bin", "HOME="], "user": {"uid": 3, "gid": 3}})
    assert (o.OP_HOME, 3) in e.ops and b"HOME=" not in e.ops[-1][2]


def test_start_container_hooks_without_env_get_the_passwd_home():
    """runc runs startContainer hooks from its init after setupUser: a hook
    without `env` sees the process env with HOME; the flag asks the init to
    append the HOME it read.  A hook with its own env gets exactly that."""
    c = spec(env=["PATH=/bin"])
    c["hooks"] = {"startContainer": [{"path": "/bin/a"}, {"path": "/bin/b", "env": ["X=1"]}]}
    hooks = [op for op in plan(c).ops if op[0] == o.OP_HOOK]
    assert hooks[0][-1] == 1 and hooks[0][4] == b"PATH=/bin\0"
    assert len(hooks[1]) == 7 and hooks[1][4] == b"X=1\0"
    c["process"]["env"].append("HOME=/h")
    hooks = [op for op in plan(c).ops if op[0] == o.OP_HOOK]
    assert hooks[0][-1] == 0 and hooks[0][4] == b"PATH=/bin\0HOME=/h\0"


@pytest.mark.parametrize("nnp", [False, True])
def test_user_files_come_before_any_seccomp_filter(nnp):
    """OP_FIX_STDIO and OP_HOME use fstatfs/openat2/fchown, which a profile
    may deny (runc's init uses openat/fstat/fchown there): they run before
    the filter is loaded, whichever side of the identity switch it goes."""
    c = spec(user={"uid": 1000, "gid": 1000}, env=["PATH=/bin"], noNewPrivileges=nnp)
    c["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW",
                             "syscalls": [{"names": ["openat2", "fstatfs"], "action": "SCMP_ACT_ERRNO"}]}
    for p in (plan(c), exec_plan(dict(c["process"], args=["sh"]), seccomp=c["linux"]["seccomp"])):
        seq = names(p)
        assert seq.index("OP_FIX_STDIO") < seq.index("OP_HOME") < seq.index("OP_SECCOMP")
