"""Process confinement observed from inside real containers: capabilities,
no_new_privs, seccomp (every action, operators, flags, default profiles, the
NOTIFY listener), LSM labels, and the same bundles run by runc for
comparison."""
from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import struct
import threading
from typing import Any

import pytest

from tests.conftest import new_id
from tests.integration.test_bad_input import assert_clean_failure

SIGSYS = 31
AGENT_DEADLINE = 60.0  # safety net against a wedged agent, not a timing assertion


PROBE_C = r"""
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/personality.h>
#include <sys/syscall.h>
int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	if (!strcmp(argv[1], "ids"))
		printf("uid=%d euid=%d\n", getuid(), geteuid());
	else if (!strcmp(argv[1], "ioprio")) {
		long v = syscall(SYS_ioprio_get, 1, 0);
		printf("class=%ld level=%ld\n", v >> 13, v & 0xff);
	} else if (!strcmp(argv[1], "personality"))
		printf("%#lx\n", (unsigned long)personality(0xffffffff));
	else
		return 2;
	return 0;
}
"""


@pytest.fixture(scope="session")
def probe(tmp_path_factory) -> str:
    """A tiny static program that reports what busybox cannot."""
    import shutil
    import subprocess

    if shutil.which("gcc") is None:
        pytest.skip("gcc is needed to build the probe program")
    d = tmp_path_factory.mktemp("probe")
    (d / "probe.c").write_text(PROBE_C)
    subprocess.run(["gcc", "-static", "-O1", "-o", str(d / "probe"), str(d / "probe.c")], check=True)
    return str(d / "probe")


def install_probe(probe: str, b, mode: int = 0o755) -> None:
    dst = b.rootfs / "bin" / "probe"
    dst.write_bytes(open(probe, "rb").read())
    os.chmod(dst, mode)


def run(rt, b, *flags: str):
    return rt("run", *flags, "-b", str(b.path), new_id())


def status_of(out: str) -> dict[str, str]:
    return {k: v.strip() for k, _, v in (l.partition(":") for l in out.splitlines()) if v}


STATUS_SCRIPT = "grep -E '^(Cap|NoNewPrivs|Seccomp)' /proc/self/status"


def both(pyrunc, runc, b) -> tuple[str, str]:
    ours, theirs = run(pyrunc, b), run(runc, b)
    assert ours.returncode == theirs.returncode, (ours.stderr, theirs.stderr)
    return ours.stdout, theirs.stdout


def bits(*names: str) -> int:
    from pyrunc.linux.capabilities import CAPABILITIES

    m = 0
    for n in names:
        m |= 1 << CAPABILITIES[n]
    return m


# ---------------------------------------------------------------- capabilities


def test_root_capability_sets_match_config_and_runc(pyrunc, runc, make_bundle):
    caps = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_SETUID", "CAP_NET_ADMIN", "CAP_BPF", "CAP_CHECKPOINT_RESTORE"]

    def edit(c):
        c["process"]["capabilities"] = {"bounding": caps + ["CAP_SYS_ADMIN", "CAP_PERFMON"], "effective": caps,
                                        "permitted": caps, "inheritable": caps[:2], "ambient": caps[:1]}
    b = make_bundle(["sh", "-c", STATUS_SCRIPT], edit=edit)
    ours, theirs = both(pyrunc, runc, b)
    got = status_of(ours)
    assert int(got["CapBnd"], 16) == bits(*caps, "CAP_SYS_ADMIN", "CAP_PERFMON")
    assert int(got["CapEff"], 16) == int(got["CapPrm"], 16) == bits(*caps)
    assert int(got["CapInh"], 16) == bits(*caps[:2])
    assert int(got["CapAmb"], 16) == bits(caps[0])
    assert ours == theirs


def test_non_root_keeps_capabilities_across_setuid_like_runc(pyrunc, runc, make_bundle):
    """uid 1000: the permitted/effective sets survive the setuid (keep-caps);
    after execve only the ambient ones stay effective, as with runc."""
    caps = ["CAP_NET_BIND_SERVICE", "CAP_KILL", "CAP_CHOWN"]

    def edit(c):
        c["process"]["user"] = {"uid": 1000, "gid": 1000}
        c["process"]["capabilities"] = {"bounding": caps, "effective": caps, "permitted": caps,
                                        "inheritable": caps[:2], "ambient": caps[:2]}
    b = make_bundle(["sh", "-c", STATUS_SCRIPT + "; id -u"], edit=edit)
    ours, theirs = both(pyrunc, runc, b)
    got = status_of(ours)
    assert int(got["CapAmb"], 16) == bits(*caps[:2])
    assert int(got["CapEff"], 16) == int(got["CapPrm"], 16) == bits(*caps[:2])
    assert int(got["CapBnd"], 16) == bits(*caps)
    assert ours.splitlines()[-1] == "1000"
    assert ours == theirs


def test_non_root_without_ambient_has_no_effective_caps(pyrunc, runc, make_bundle):
    def edit(c):
        c["process"]["user"] = {"uid": 1000, "gid": 1000}
        caps = ["CAP_CHOWN", "CAP_KILL"]
        c["process"]["capabilities"] = {"bounding": caps, "effective": caps, "permitted": caps}
    b = make_bundle(["sh", "-c", STATUS_SCRIPT], edit=edit)
    ours, theirs = both(pyrunc, runc, b)
    got = status_of(ours)
    assert int(got["CapEff"], 16) == int(got["CapPrm"], 16) == 0
    assert int(got["CapBnd"], 16) == bits("CAP_CHOWN", "CAP_KILL")
    assert ours == theirs


def test_capabilities_are_enforced(pyrunc, make_bundle):
    """Without CAP_CHOWN root cannot chown a file it does not own... or any."""
    def edit(c, with_chown):
        c["root"]["readonly"] = False
        caps = ["CAP_DAC_OVERRIDE"] + (["CAP_CHOWN"] if with_chown else [])
        c["process"]["capabilities"] = {k: caps for k in ("bounding", "effective", "permitted")}
    script = "touch /tmp/f && chown 1000 /tmp/f && echo chowned || echo refused"
    assert run(pyrunc, make_bundle(["sh", "-c", script], lambda c: edit(c, True))).stdout.strip() == "chowned"
    assert run(pyrunc, make_bundle(["sh", "-c", script], lambda c: edit(c, False))).stdout.strip() == "refused"


def test_empty_capabilities_object_drops_everything(pyrunc, runc, make_bundle):
    def edit(c):
        c["process"]["capabilities"] = {}
    b = make_bundle(["sh", "-c", STATUS_SCRIPT], edit=edit)
    ours, theirs = both(pyrunc, runc, b)
    got = status_of(ours)
    for k in ("CapBnd", "CapEff", "CapPrm", "CapInh", "CapAmb"):
        assert int(got[k], 16) == 0, k
    assert ours == theirs


# ---------------------------------------------------------------- no_new_privs


@pytest.mark.parametrize("nnp", [True, False])
def test_no_new_privileges(pyrunc, runc, make_bundle, nnp):
    def edit(c):
        c["process"]["noNewPrivileges"] = nnp
    b = make_bundle(["sh", "-c", "grep NoNewPrivs /proc/self/status"], edit=edit)
    ours, theirs = both(pyrunc, runc, b)
    assert ours.split() == ["NoNewPrivs:", "1" if nnp else "0"]
    assert ours == theirs


def test_no_new_privileges_blocks_setuid_binaries(pyrunc, make_bundle, probe):
    """A setuid-root program run by uid 1000 gets euid 0 — unless no_new_privs."""
    def edit(c, nnp):
        c["process"]["user"] = {"uid": 1000, "gid": 1000}
        c["process"]["noNewPrivileges"] = nnp
        c["process"]["capabilities"] = {"bounding": ["CAP_SETUID", "CAP_SETGID"]}

    out = {}
    for nnp in (False, True):
        b = make_bundle(["/bin/probe", "ids"], lambda c: edit(c, nnp))
        install_probe(probe, b, mode=0o4755)
        p = run(pyrunc, b)
        assert p.returncode == 0, p.stderr
        out[nnp] = p.stdout.strip()
    assert out == {False: "uid=1000 euid=0", True: "uid=1000 euid=1000"}


# ---------------------------------------------------------------- seccomp

MKDIR = "mkdir /tmp/d; echo rc=$?"


def seccomp_bundle(make_bundle, seccomp: dict, script: str = MKDIR, nnp: bool = True, **proc: Any):
    def edit(c):
        c["root"]["readonly"] = False  # so only seccomp can make mkdir fail
        c["linux"]["seccomp"] = seccomp
        c["process"]["noNewPrivileges"] = nnp
        c["process"].update(proc)
    return make_bundle(["sh", "-c", script], edit=edit)


def mkdir_rule(action: str, **extra: Any) -> dict:
    return {"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": action, **extra}]}


@pytest.mark.parametrize("nnp", [True, False])
def test_seccomp_errno_default_and_errno_ret(pyrunc, runc, make_bundle, nnp):
    b = seccomp_bundle(make_bundle, mkdir_rule("SCMP_ACT_ERRNO"),
                       MKDIR + "; " + STATUS_SCRIPT, nnp=nnp)
    ours, theirs = both(pyrunc, runc, b)
    assert "rc=1" in ours
    got = status_of(ours)
    assert got["Seccomp"] == "2" and got["Seccomp_filters"] == "1"
    assert ours == theirs
    b = seccomp_bundle(make_bundle, mkdir_rule("SCMP_ACT_ERRNO", errnoRet=errno.EROFS), "mkdir /tmp/d 2>&1")
    p = run(pyrunc, b)
    assert p.returncode == 1 and "Read-only file system" in p.stdout
    assert p.stdout == run(runc, b).stdout


@pytest.mark.parametrize("action", ["SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP"])
def test_seccomp_killing_actions(pyrunc, runc, make_bundle, action):
    """The mkdir child dies of SIGSYS; the shell reports 128+31."""
    b = seccomp_bundle(make_bundle, mkdir_rule(action), "mkdir /tmp/d; echo rc=$?")
    ours, theirs = both(pyrunc, runc, b)
    assert ours.strip() == f"rc={128 + SIGSYS}"
    assert ours == theirs


@pytest.mark.parametrize("action", ["SCMP_ACT_LOG", "SCMP_ACT_ALLOW"])
def test_seccomp_allowing_actions(pyrunc, make_bundle, action):
    seccomp = {"defaultAction": "SCMP_ACT_ERRNO" if action == "SCMP_ACT_ALLOW" else "SCMP_ACT_ALLOW",
               "syscalls": [{"names": ["mkdir", "mkdirat"], "action": action}]}
    if action == "SCMP_ACT_ALLOW":
        seccomp["syscalls"].append({"names": ["chmod", "fchmodat"], "action": "SCMP_ACT_ALLOW"})
        from tests.unit.test_seccomp_load import docker_like_profile

        seccomp["syscalls"] += docker_like_profile()["syscalls"]
    b = seccomp_bundle(make_bundle, seccomp, "mkdir /tmp/d; echo rc=$?")
    assert run(pyrunc, b).stdout.strip() == "rc=0"


def test_seccomp_trace_without_tracer_fails_the_syscall(pyrunc, runc, make_bundle):
    b = seccomp_bundle(make_bundle, mkdir_rule("SCMP_ACT_TRACE", errnoRet=errno.EPERM), "mkdir /tmp/d 2>&1; echo rc=$?")
    ours, theirs = both(pyrunc, runc, b)
    assert "rc=1" in ours
    assert ours == theirs


# chmod(path, mode) / fchmodat(dirfd, path, mode): the mode is what busybox
# `chmod` passes; each case: operator, value, valueTwo, modes refused, modes allowed
OPERATOR_CASES = {
    "SCMP_CMP_EQ": (0o700, 0, ["700"], ["755"]),
    "SCMP_CMP_NE": (0o700, 0, ["755"], ["700"]),
    "SCMP_CMP_LT": (0o700, 0, ["600"], ["700", "755"]),
    "SCMP_CMP_LE": (0o700, 0, ["600", "700"], ["755"]),
    "SCMP_CMP_GT": (0o700, 0, ["755"], ["700", "600"]),
    "SCMP_CMP_GE": (0o700, 0, ["700", "755"], ["600"]),
    "SCMP_CMP_MASKED_EQ": (0o007, 0o005, ["755", "705"], ["700", "750"]),
}


@pytest.mark.parametrize("op", sorted(OPERATOR_CASES))
def test_seccomp_argument_operators(pyrunc, runc, make_bundle, op):
    value, two, refused, allowed = OPERATOR_CASES[op]

    def arg(index: int) -> dict:
        a = {"index": index, "value": value, "op": op}
        if op == "SCMP_CMP_MASKED_EQ":
            a["valueTwo"] = two
        return a
    seccomp = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["chmod"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.EXDEV, "args": [arg(1)]},
        {"names": ["fchmodat"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.EXDEV, "args": [arg(2)]}]}
    modes = refused + allowed
    script = "touch /tmp/f; " + "; ".join(
        f"chmod {m} /tmp/f 2>/dev/null && echo {m}=ok || echo {m}=refused" for m in modes)
    b = seccomp_bundle(make_bundle, seccomp, script)
    ours, theirs = both(pyrunc, runc, b)
    got = dict(l.split("=") for l in ours.split())
    assert got == {**{m: "refused" for m in refused}, **{m: "ok" for m in allowed}}
    assert ours == theirs


def test_seccomp_args_on_the_same_index_match_either(pyrunc, runc, make_bundle):
    """Two args on the same index: one rule each (OR), as runc does."""
    seccomp = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": [name], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.EXDEV,
         "args": [{"index": i, "value": 0o700, "op": "SCMP_CMP_EQ"}, {"index": i, "value": 0o600, "op": "SCMP_CMP_EQ"}]}
        for name, i in (("chmod", 1), ("fchmodat", 2))]}
    script = "touch /tmp/f; " + "; ".join(
        f"chmod {m} /tmp/f 2>/dev/null && echo {m}=ok || echo {m}=refused" for m in ("700", "600", "755"))
    b = seccomp_bundle(make_bundle, seccomp, script)
    ours, theirs = both(pyrunc, runc, b)
    assert ours.split() == ["700=refused", "600=refused", "755=ok"]
    assert ours == theirs


@pytest.mark.parametrize("flags", [["SECCOMP_FILTER_FLAG_LOG"], ["SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
                                   ["SECCOMP_FILTER_FLAG_TSYNC"], []])
def test_seccomp_flags_load(pyrunc, make_bundle, flags):
    sc = mkdir_rule("SCMP_ACT_ERRNO")
    sc["flags"] = flags
    b = seccomp_bundle(make_bundle, sc, MKDIR + "; " + STATUS_SCRIPT)
    p = run(pyrunc, b)
    assert p.returncode == 0, p.stderr
    assert "rc=1" in p.stdout and status_of(p.stdout)["Seccomp"] == "2"


def test_seccomp_unknown_syscalls_are_skipped(pyrunc, runc, make_bundle):
    sc = {"defaultAction": "SCMP_ACT_ALLOW",
          "syscalls": [{"names": ["no_such_syscall_xyz", "mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}
    b = seccomp_bundle(make_bundle, sc)
    ours, theirs = both(pyrunc, runc, b)
    assert ours.strip() == "rc=1"
    assert ours == theirs


@pytest.mark.parametrize("profile", ["docker", "podman"])
def test_default_profiles_run_busybox(pyrunc, runc, make_bundle, profile):
    from tests.unit.test_seccomp_load import docker_like_profile, podman_like_profile

    prof = docker_like_profile() if profile == "docker" else podman_like_profile()
    script = ("ls / >/dev/null && echo ls-ok; id -u; echo x > /tmp/f && cat /tmp/f; "
              "grep -E '^Seccomp' /proc/self/status; "
              # swapon: EPERM in both profiles (podman names it, docker's default)
              "swapoff /dev/null 2>&1; echo swapoff=$?")
    b = seccomp_bundle(make_bundle, prof, script)
    ours, theirs = both(pyrunc, runc, b)
    lines = ours.splitlines()
    assert lines[:3] == ["ls-ok", "0", "x"]
    assert status_of(ours)["Seccomp"] == "2"
    assert "Operation not permitted" in ours and "swapoff=1" in ours
    assert ours == theirs


def test_default_profile_without_no_new_privs(pyrunc, make_bundle):
    """Without no_new_privs the filter is loaded while root still has
    CAP_SYS_ADMIN; the process then runs as uid 1000 under it."""
    from tests.unit.test_seccomp_load import docker_like_profile

    b = seccomp_bundle(make_bundle, docker_like_profile(), "id -u; " + STATUS_SCRIPT, nnp=False,
                       user={"uid": 1000, "gid": 1000})
    p = run(pyrunc, b)
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines()[0] == "1000"
    got = status_of(p.stdout)
    assert got["Seccomp"] == "2" and got["NoNewPrivs"] == "0"


# ---------------------------------------------------------------- NOTIFY

NOTIF_SIZE, RESP_SIZE = 80, 24
SECCOMP_IOCTL_NOTIF_RECV = 0xC0502100
SECCOMP_IOCTL_NOTIF_SEND = 0xC0182101


class Agent:
    """A seccomp agent on a unix socket: takes the listener fd and the
    container process state, answers `count` notifications with `answer`
    (a negative errno, or 0 for "it worked")."""

    def __init__(self, path: str, answer: int, count: int = 1) -> None:
        self.path = path
        self.answer = answer
        self.count = count
        self.msg: dict[str, Any] | None = None
        self.nfds = 0
        self.requests: list[dict[str, int]] = []
        self.error: str | None = None
        self.srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.srv.bind(path)
        self.srv.listen(1)
        self.srv.settimeout(AGENT_DEADLINE)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            conn, _ = self.srv.accept()
            with conn:
                data, fds, _, _ = socket.recv_fds(conn, 1 << 16, 4)
                while True:  # until a whole document arrived (runc keeps the connection open)
                    try:
                        self.msg = json.loads(data)
                        break
                    except ValueError:
                        chunk = conn.recv(1 << 16)
                        if not chunk:
                            raise
                        data += chunk
            self.nfds = len(fds)
            lfd = fds[0]
            for extra in fds[1:]:
                os.close(extra)
            try:
                for _ in range(self.count):
                    req = bytearray(NOTIF_SIZE)
                    fcntl.ioctl(lfd, SECCOMP_IOCTL_NOTIF_RECV, req)
                    nid, pid, _flags, sysnr = struct.unpack_from("=QIIi", req)
                    self.requests.append({"pid": pid, "nr": sysnr})
                    resp = bytearray(struct.pack("=QqiI", nid, 0, self.answer, 0))
                    fcntl.ioctl(lfd, SECCOMP_IOCTL_NOTIF_SEND, resp)
            finally:
                os.close(lfd)
        except BaseException as e:  # reported by the test
            self.error = repr(e)

    def close(self) -> None:
        self.srv.close()
        self.thread.join(AGENT_DEADLINE)


@pytest.mark.parametrize("answer,expect", [(-errno.EACCES, "Permission denied"), (0, "rc=0 absent")])
def test_seccomp_notify_agent_answers(pyrunc, make_bundle, tmp_path, answer, expect):
    sock = str(tmp_path / "agent.sock")
    sc = {"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": sock, "listenerMetadata": "meta=1",
          "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]}
    b = seccomp_bundle(make_bundle, sc, "mkdir /tmp/d 2>&1; echo rc=$?; ls /tmp | grep -q d || echo absent")
    agent = Agent(sock, answer)
    cid = new_id()
    try:
        p = pyrunc("run", "-b", str(b.path), cid)
    finally:
        agent.close()
    assert agent.error is None, agent.error
    assert p.returncode == 0, p.stderr
    if answer:
        assert expect in p.stdout and "rc=1" in p.stdout
    else:
        assert p.stdout.split() == ["rc=0", "absent"]  # the agent said it worked; nothing was made
    msg = agent.msg
    assert msg is not None and msg["fds"] == ["seccompFd"] and agent.nfds == 1
    assert msg["metadata"] == "meta=1"
    assert msg["ociVersion"] and msg["state"]["id"] == cid and msg["state"]["status"] == "creating"
    assert msg["state"]["pid"] == msg["pid"] > 0 and msg["state"]["bundle"] == str(b.path)
    # the notification came from the container's process (a child of the init)
    assert len(agent.requests) == 1 and agent.requests[0]["pid"] > 0


def test_seccomp_notify_listener_unreachable_is_a_clean_failure(pyrunc, make_bundle, tmp_path):
    sock = str(tmp_path / "nobody-listens.sock")
    sc = {"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": sock,
          "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}
    b = seccomp_bundle(make_bundle, sc)
    cid = new_id()
    p = pyrunc("run", "-b", str(b.path), cid)
    assert_clean_failure(pyrunc, p, cid, b.path, "listenerPath")


# ---------------------------------------------------------------- LSM


def test_apparmor_profile_without_apparmor_is_a_clear_error(pyrunc, runc, make_bundle):
    from pyrunc.lsm import apparmor_enabled

    if apparmor_enabled():
        pytest.skip("AppArmor is enabled here: the not-enabled path cannot be observed")
    b = make_bundle(["true"], edit=lambda c: c["process"].__setitem__("apparmorProfile", "docker-default"))
    cid = new_id()
    p = pyrunc("run", "-b", str(b.path), cid)
    assert_clean_failure(pyrunc, p, cid, b.path, "process.apparmorProfile: apparmor profile 'docker-default' is specified")
    assert run(runc, b).returncode != 0  # runc refuses it too (at its init's write)


def test_selinux_labels_without_selinux_are_clear_errors(pyrunc, runc, make_bundle):
    from pyrunc.lsm import selinux_enabled

    if selinux_enabled():
        pytest.skip("SELinux is enabled here: the not-enabled path cannot be observed")
    for field, edit in (
        ("process.selinuxLabel", lambda c: c["process"].__setitem__("selinuxLabel", "system_u:system_r:container_t:s0")),
        # linux.mountLabel is accepted with a warning: test_runc_corners.py
    ):
        b = make_bundle(["true"], edit=edit)
        cid = new_id()
        p = pyrunc("run", "-b", str(b.path), cid)
        assert_clean_failure(pyrunc, p, cid, b.path, f"{field}: selinux")
        assert run(runc, b).returncode != 0


def test_apparmor_profile_applied_when_enabled(pyrunc, make_bundle):
    from pyrunc.lsm import apparmor_enabled

    if not apparmor_enabled():
        pytest.skip("AppArmor is not enabled on this host")
    b = make_bundle(["cat", "/proc/self/attr/current"],
                    edit=lambda c: c["process"].__setitem__("apparmorProfile", "unconfined"))
    p = run(pyrunc, b)
    assert p.returncode == 0 and "unconfined" in p.stdout


# ---------------------------------------------------------------- bad input

BAD = {
    "unknown syscall action": ({"defaultAction": "SCMP_ACT_ALLOW",
                                "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_BOGUS"}]},
                               "linux.seccomp.syscalls[0].action"),
    "unknown operator": ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 1, "value": 1, "op": "SCMP_CMP_SORTA"}]}]},
                         "linux.seccomp.syscalls[0].args[0].op"),
    "argument index too high": ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]},
                                "linux.seccomp.syscalls[0].args[0].index"),
    "argument value negative": ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": -1, "op": "SCMP_CMP_EQ"}]}]},
                                "linux.seccomp.syscalls[0].args[0].value"),
    "notify without listenerPath": ({"defaultAction": "SCMP_ACT_ALLOW",
                                     "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]},
                                    "linux.seccomp.listenerPath"),
    "errnoRet on kill": ({"defaultAction": "SCMP_ACT_ALLOW",
                          "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_KILL", "errnoRet": 1}]},
                         "linux.seccomp.syscalls[0].errnoRet"),
    "unknown flag": ({"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_BOGUS"]},
                     "linux.seccomp.flags[0]"),
    "unknown architecture": ({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_Z80"]},
                             "linux.seccomp.architectures[0]"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_seccomp_is_one_line_and_leaves_nothing(pyrunc, make_bundle, case):
    seccomp, phrase = BAD[case]
    b = make_bundle(["true"], edit=lambda c: c["linux"].__setitem__("seccomp", seccomp))
    cid = new_id()
    p = pyrunc("run", "-b", str(b.path), cid)
    assert_clean_failure(pyrunc, p, cid, b.path, phrase)


BAD_CAPS = {
    # (ambient caps outside permitted and inheritable are skipped with a
    # warning, as runc does: tests/integration/test_hooks_parity.py)
    "unknown name": ({"effective": ["CAP_CHOWN", "CAP_TELEPORT"]}, "process.capabilities.effective[1]"),
    "not a list": ({"effective": "CAP_CHOWN"}, "process.capabilities.effective"),
}


@pytest.mark.parametrize("case", sorted(BAD_CAPS))
def test_bad_capabilities_are_one_line_and_leave_nothing(pyrunc, make_bundle, case):
    caps, phrase = BAD_CAPS[case]
    b = make_bundle(["true"], edit=lambda c: c["process"].__setitem__("capabilities", caps))
    cid = new_id()
    p = pyrunc("run", "-b", str(b.path), cid)
    assert_clean_failure(pyrunc, p, cid, b.path, phrase)


@pytest.mark.parametrize("flags", [["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"], ["SECCOMP_FILTER_FLAG_TSYNC"]])
def test_seccomp_notify_through_create_and_start(pyrunc, make_bundle, tmp_path, flags):
    """The agent gets the fd at create (status "creating"); the container's
    syscall reaches it only after start."""
    sock = str(tmp_path / "agent.sock")
    sc = {"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": sock, "flags": flags,
          "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]}
    b = seccomp_bundle(make_bundle, sc, "mkdir /tmp/d 2>/tmp/err; echo rc=$? > /tmp/out")
    agent = Agent(sock, -errno.EDQUOT)
    cid = new_id()
    try:
        p = pyrunc("create", "-b", str(b.path), cid)
        assert p.returncode == 0, p.stderr
        assert agent.msg is not None or agent.thread.is_alive()
        assert pyrunc.state(cid)["status"] == "created"
        assert pyrunc("start", cid).returncode == 0
    finally:
        agent.close()
    assert agent.error is None, agent.error
    assert agent.msg is not None and agent.msg["state"]["id"] == cid and agent.msg["state"]["status"] == "creating"
    assert len(agent.requests) == 1
    wait_stopped(pyrunc, cid)
    assert pyrunc("delete", cid).returncode == 0
    assert (b.rootfs / "tmp" / "out").read_text().strip() == "rc=1"
    assert "quota" in (b.rootfs / "tmp" / "err").read_text().lower()


def wait_stopped(rt, cid: str, deadline: float = 30.0) -> None:
    """Until the container's process has exited (a safety net, not a timing assertion)."""
    import time

    end = time.monotonic() + deadline
    while rt.state(cid)["status"] != "stopped":
        assert time.monotonic() < end, f"{cid} did not stop"
        time.sleep(0.05)


def test_seccomp_notify_like_runc(pyrunc, runc, make_bundle, tmp_path):
    """Same bundle, same agent: the same answer inside and the same message
    layout at the listener."""
    results = {}
    for name, rt in (("pyrunc", pyrunc), ("runc", runc)):
        sock = str(tmp_path / f"{name}.sock")
        sc = {"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": sock, "listenerMetadata": "m",
              "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]}
        b = seccomp_bundle(make_bundle, sc, "mkdir /tmp/d 2>&1; echo rc=$?")
        agent = Agent(sock, -errno.EACCES)
        try:
            p = run(rt, b)
        finally:
            agent.close()
        assert agent.error is None, (name, agent.error)
        assert agent.msg is not None
        results[name] = (p.stdout, sorted(agent.msg), agent.msg["fds"], agent.msg["metadata"],
                         agent.msg["state"]["status"], sorted(agent.msg["state"]))
    ours, theirs = results["pyrunc"], results["runc"]
    assert ours[0] == theirs[0] and "Permission denied" in ours[0]
    assert ours[1:5] == theirs[1:5]
    assert set(theirs[5]) <= set(ours[5])  # state: runc's keys (pyrunc may add spec 1.3 ones)


def test_seccomp_default_errno_ret(pyrunc, runc, make_bundle):
    """Everything not allowed fails with defaultErrnoRet."""
    from tests.unit.test_seccomp_load import docker_like_profile

    prof = docker_like_profile()
    prof["defaultErrnoRet"] = errno.EXDEV
    for rule in prof["syscalls"]:
        rule["names"] = [n for n in rule["names"] if n not in ("mkdir", "mkdirat")]
    prof["syscalls"] = [r for r in prof["syscalls"] if r["names"]]
    b = seccomp_bundle(make_bundle, prof, "mkdir /tmp/d 2>&1; echo rc=$?")
    ours, theirs = both(pyrunc, runc, b)
    assert "Invalid cross-device link" in ours and "rc=1" in ours
    assert ours == theirs


def test_seccomp_notify_for_exec(pyrunc, make_bundle, tmp_path):
    """An exec'd process gets the container's filter; its listener fd goes to
    the agent too, with the state of the running container."""
    sock = str(tmp_path / "agent.sock")
    sc = {"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": sock,
          "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]}
    b = seccomp_bundle(make_bundle, sc, "sleep 600")
    cid = new_id()
    first = Agent(sock, 0, count=0)
    try:
        p = pyrunc("run", "-d", "-b", str(b.path), cid)
    finally:
        first.close()
    assert p.returncode == 0, p.stderr
    assert first.error is None and first.msg is not None and first.msg["state"]["status"] == "creating"
    os.unlink(sock)
    second = Agent(sock, -errno.EACCES)
    try:
        p = pyrunc("exec", cid, "sh", "-c", "mkdir /tmp/d 2>&1; echo rc=$?")
    finally:
        second.close()
        pyrunc("delete", "--force", cid)
    assert second.error is None, second.error
    assert "Permission denied" in p.stdout and "rc=1" in p.stdout
    assert second.msg is not None and second.msg["state"]["id"] == cid
    assert second.msg["state"]["status"] == "running" and len(second.requests) == 1
