"""Process attributes observed from inside real containers: scheduler,
ioPriority, personality, execCPUAffinity, memoryPolicy, oomScoreAdj,
rlimits above the caller's, the session keyring and the fds and cwd the
container process starts with."""
from __future__ import annotations

import os
import resource
import subprocess

import pytest

from tests.conftest import new_id
from tests.integration.test_bad_input import assert_clean_failure
from tests.integration.test_security import install_probe, probe, run  # noqa: F401  (probe is a fixture)

STAT_NICE, STAT_POLICY = 19, 41  # 1-based fields of /proc/<pid>/stat


def stat_fields(text: str) -> list[str]:
    """Fields of a /proc/<pid>/stat line, 1-based (comm may hold spaces)."""
    head, _, rest = text.rpartition(")")
    return ["", head.split(" (")[0], "comm"] + rest.split()


def ok(p) -> str:
    assert p.returncode == 0, p.stderr
    return p.stdout


# ---------------------------------------------------------------- scheduler


@pytest.mark.parametrize("policy,number,nice", [("SCHED_BATCH", 3, 7), ("SCHED_IDLE", 5, 0), ("SCHED_OTHER", 0, 4)])
def test_scheduler_policy_and_nice(pyrunc, make_bundle, policy, number, nice):
    def edit(c):
        c["process"]["scheduler"] = {"policy": policy, "nice": nice}
    b = make_bundle(["cat", "/proc/self/stat"], edit=edit)
    f = stat_fields(ok(run(pyrunc, b)))
    assert int(f[STAT_POLICY]) == number
    if policy != "SCHED_IDLE":
        assert int(f[STAT_NICE]) == nice


def test_scheduler_realtime_priority(pyrunc, make_bundle):
    def edit(c):
        c["process"]["scheduler"] = {"policy": "SCHED_RR", "priority": 7}
    b = make_bundle(["cat", "/proc/self/stat"], edit=edit)
    p = run(pyrunc, b)
    if p.returncode != 0:
        # cgroup v1 with RT group scheduling: a new cpu cgroup has no RT
        # runtime, so the kernel refuses; the error must say what failed
        assert "scheduler" in p.stderr and "sched_setattr" in p.stderr, p.stderr
        assert len(p.stderr.strip().splitlines()) == 1
        return
    f = stat_fields(p.stdout)
    assert int(f[STAT_POLICY]) == 2 and int(f[18]) == -8  # prio field: -1 - rt_priority


def test_scheduler_reset_on_fork_flag(pyrunc, make_bundle):
    """SCHED_FLAG_RESET_ON_FORK: the container process runs at nice -5, its
    children are reset to 0."""
    def edit(c):
        c["process"]["scheduler"] = {"policy": "SCHED_OTHER", "nice": -5, "flags": ["SCHED_FLAG_RESET_ON_FORK"]}
    b = make_bundle(["sh", "-c", "cat /proc/$$/stat; cat /proc/self/stat; true"], edit=edit)
    own, child = ok(run(pyrunc, b)).splitlines()
    assert int(stat_fields(own)[STAT_NICE]) == -5
    assert int(stat_fields(child)[STAT_NICE]) == 0


# ---------------------------------------------------------------- ioPriority


@pytest.mark.parametrize("cls,number,level", [("IOPRIO_CLASS_BE", 2, 3), ("IOPRIO_CLASS_IDLE", 3, 0),
                                              ("IOPRIO_CLASS_RT", 1, 5)])
def test_io_priority(pyrunc, make_bundle, probe, cls, number, level):
    def edit(c):
        c["process"]["ioPriority"] = {"class": cls, "priority": level}
    b = make_bundle(["/bin/probe", "ioprio"], edit=edit)
    install_probe(probe, b)
    assert ok(run(pyrunc, b)).strip() == f"class={number} level={level}"


def test_io_priority_seen_by_ionice(pyrunc, make_bundle):
    def edit(c):
        c["process"]["ioPriority"] = {"class": "IOPRIO_CLASS_BE", "priority": 6}
    b = make_bundle(["ionice", "-p", "1"], edit=edit)
    assert ok(run(pyrunc, b)).strip() == "best-effort: prio 6"


# ---------------------------------------------------------------- personality


def test_personality_linux32(pyrunc, make_bundle):
    def edit(c):
        c["linux"]["personality"] = {"domain": "LINUX32"}
    b = make_bundle(["uname", "-m"], edit=edit)
    assert ok(run(pyrunc, b)).strip() in ("i686", "i386")
    assert ok(run(pyrunc, make_bundle(["uname", "-m"]))).strip() == os.uname().machine


def test_personality_flags(pyrunc, make_bundle, probe):
    def edit(c):
        c["linux"]["personality"] = {"domain": "LINUX", "flags": ["ADDR_NO_RANDOMIZE"]}
    b = make_bundle(["/bin/probe", "personality"], edit=edit)
    install_probe(probe, b)
    assert int(ok(run(pyrunc, b)).strip(), 16) == 0x0040000


# ---------------------------------------------------------------- execCPUAffinity


def cpus_allowed(out: str) -> str:
    return next(l.split(":")[1].strip() for l in out.splitlines() if l.startswith("Cpus_allowed_list"))


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two CPUs")
@pytest.mark.parametrize("aff,want", [({"final": "1"}, "1"), ({"initial": "0", "final": "1"}, "1"),
                                      ({"final": "0-1"}, "0-1")])
def test_exec_cpu_affinity(pyrunc, make_bundle, aff, want):
    def edit(c):
        c["process"]["execCPUAffinity"] = aff
    b = make_bundle(["cat", "/proc/self/status"], edit=edit)
    assert cpus_allowed(ok(run(pyrunc, b))) == want


# ---------------------------------------------------------------- memoryPolicy


@pytest.mark.skipif(not os.path.exists("/proc/self/numa_maps"), reason="kernel without NUMA")
@pytest.mark.parametrize("mode,nodes,shown", [("MPOL_BIND", "0", "bind:0"), ("MPOL_INTERLEAVE", "0", "interleave:0"),
                                              ("MPOL_PREFERRED", "0", "prefer:0"), ("MPOL_LOCAL", None, "local")])
def test_memory_policy(pyrunc, make_bundle, mode, nodes, shown):
    def edit(c):
        c["linux"]["memoryPolicy"] = {"mode": mode, **({"nodes": nodes} if nodes else {})}
    b = make_bundle(["head", "-1", "/proc/self/numa_maps"], edit=edit)
    assert ok(run(pyrunc, b)).split()[1] == shown
    assert ok(run(pyrunc, make_bundle(["head", "-1", "/proc/self/numa_maps"]))).split()[1] == "default"


def test_memory_policy_on_a_missing_node_is_a_clean_failure(pyrunc, make_bundle):
    def edit(c):
        c["linux"]["memoryPolicy"] = {"mode": "MPOL_BIND", "nodes": "63"}
    b = make_bundle(["true"], edit=edit)
    cid = new_id()
    p = pyrunc("run", "-b", str(b.path), cid)
    assert_clean_failure(pyrunc, p, cid, b.path, "memoryPolicy")


# ---------------------------------------------------------------- oomScoreAdj, rlimits


def has_cap(n: int) -> bool:
    with open("/proc/self/status") as f:
        return bool(int(next(l for l in f if l.startswith("CapEff")).split()[1], 16) >> n & 1)


CAP_SYS_RESOURCE = 24


@pytest.mark.parametrize("adj", [0, 500, 1000])
def test_oom_score_adj_like_runc(pyrunc, runc, make_bundle, adj):
    b = make_bundle(["cat", "/proc/self/oom_score_adj"], edit=lambda c: c["process"].__setitem__("oomScoreAdj", adj))
    assert ok(run(pyrunc, b)).strip() == str(adj)
    assert ok(run(runc, b)).strip() == str(adj)


def test_lowering_oom_score_adj_without_cap_sys_resource(pyrunc, runc, make_bundle):
    """Below the caller's value the kernel wants CAP_SYS_RESOURCE: where it is
    missing both runtimes fail; pyrunc says which setting and leaves nothing."""
    with open("/proc/self/oom_score_adj") as f:
        mine = int(f.read())
    b = make_bundle(["cat", "/proc/self/oom_score_adj"],
                    edit=lambda c: c["process"].__setitem__("oomScoreAdj", max(mine - 500, -1000)))
    if has_cap(CAP_SYS_RESOURCE):
        assert ok(run(pyrunc, b)).strip() == str(max(mine - 500, -1000))
        return
    cid = new_id()
    p = pyrunc("run", "-b", str(b.path), cid)
    assert_clean_failure(pyrunc, p, cid, b.path, "process.oomScoreAdj")
    assert "Permission denied" in p.stderr or "permission denied" in p.stderr
    assert run(runc, b).returncode != 0


def test_rlimit_above_the_callers_hard_limit_names_the_limit(pyrunc, runc, make_bundle):
    _, hard = resource.getrlimit(resource.RLIMIT_MEMLOCK)
    if hard == resource.RLIM_INFINITY:
        pytest.skip("RLIMIT_MEMLOCK is unlimited here")
    if has_cap(CAP_SYS_RESOURCE):
        pytest.skip("the caller has CAP_SYS_RESOURCE and may raise any limit")

    def edit(c):
        c["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 64, "hard": 64},
                                   {"type": "RLIMIT_MEMLOCK", "soft": hard, "hard": hard + 4096}]
    b = make_bundle(["true"], edit=edit)
    cid = new_id()
    p = pyrunc("run", "-b", str(b.path), cid)
    assert_clean_failure(pyrunc, p, cid, b.path, "process.rlimits[1]: RLIMIT_MEMLOCK hard limit")
    assert str(hard + 4096) in p.stderr
    assert run(runc, b).returncode != 0  # runc fails too (at its init's setrlimit)


def test_rlimits_at_the_callers_hard_limit_work(pyrunc, make_bundle):
    _, hard = resource.getrlimit(resource.RLIMIT_MEMLOCK)
    if hard == resource.RLIM_INFINITY:
        pytest.skip("RLIMIT_MEMLOCK is unlimited here")

    def edit(c):
        c["process"]["rlimits"] = [{"type": "RLIMIT_MEMLOCK", "soft": 4096, "hard": hard},
                                   {"type": "RLIMIT_CORE", "soft": 0, "hard": 0}]
    b = make_bundle(["sh", "-c", "ulimit -l; ulimit -Hl; ulimit -c"], edit=edit)
    assert ok(run(pyrunc, b)).split() == ["4", str(hard // 1024), "0"]


# ---------------------------------------------------------------- keyring


def unmask_keys(c) -> None:
    c["linux"]["maskedPaths"] = [p for p in c["linux"]["maskedPaths"] if p != "/proc/keys"]


def test_default_session_keyring_is_the_containers_own(pyrunc, runc, make_bundle):
    b = make_bundle(["cat", "/proc/keys"], edit=unmask_keys)
    cid = new_id()
    out = ok(pyrunc("run", "-b", str(b.path), cid))
    assert f"_ses.{cid}" in out
    rid = new_id()
    assert f"_ses.{rid}" in ok(runc("run", "-b", str(b.path), rid))


def test_no_new_keyring_keeps_the_callers_session_keyring(pyrunc, runc, make_bundle):
    b = make_bundle(["cat", "/proc/keys"], edit=unmask_keys)
    cid = new_id()
    out = ok(pyrunc("run", "--no-new-keyring", "-b", str(b.path), cid))
    assert "_ses." + cid not in out
    rid = new_id()
    assert "_ses." + rid not in ok(runc("run", "--no-new-keyring", "-b", str(b.path), rid))


def test_session_keyring_of_a_non_root_user(pyrunc, make_bundle):
    """uid 1000 can still see (and search) its own session keyring."""
    def edit(c):
        unmask_keys(c)
        c["process"]["user"] = {"uid": 1000, "gid": 1000}
    b = make_bundle(["cat", "/proc/keys"], edit=edit)
    cid = new_id()
    assert f"_ses.{cid}" in ok(pyrunc("run", "-b", str(b.path), cid))


# ---------------------------------------------------------------- fds, cwd


def fd_numbers(out: str) -> list[int]:
    """fd numbers in `ls -l /proc/self/fd` output, without ls's own dir fd
    (the one whose link cannot be read once ls has closed it)."""
    nums = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 9 and parts[8].isdigit() and "->" in line:
            nums.append(int(parts[8]))
    return nums


def with_fds(rt, args: list[str], listen: int = 0) -> subprocess.CompletedProcess:
    """Run the runtime with a socket at fd 3 and a pipe at fd 4, both without
    close-on-exec (as containerd's shim hands over a socket); with `listen`,
    LISTEN_FDS/LISTEN_PID announce that many of them (a shell sets them and
    execs the runtime, so LISTEN_PID is the runtime's pid)."""
    import socket

    s1, s2 = socket.socketpair()
    r, w = os.pipe()
    argv = [*rt.argv, "--root", str(rt.root), *args]
    if listen:
        argv = ["sh", "-c", f'export LISTEN_PID=$$ LISTEN_FDS={listen}; exec "$@"', "sh", *argv]

    def place() -> None:  # in the child, before exec: dup2 leaves them inheritable
        os.dup2(s1.fileno(), 3)
        os.dup2(r, 4)

    import tempfile

    try:  # files, not pipes: a created container's init keeps its stdio
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            rc = subprocess.run(argv, stdout=out, stderr=err, timeout=60, close_fds=False,
                                preexec_fn=place, stdin=subprocess.DEVNULL).returncode
            out.seek(0)
            err.seek(0)
            return subprocess.CompletedProcess(argv, rc, out.read().decode(), err.read().decode())
    finally:
        s1.close()
        s2.close()
        os.close(r)
        os.close(w)


LS_FD = ["sh", "-c", "ls -l /proc/self/fd; echo LISTEN_FDS=$LISTEN_FDS"]


def test_inherited_fds_do_not_reach_the_container(pyrunc, make_bundle):
    b = make_bundle(LS_FD)
    p = with_fds(pyrunc, ["run", "-b", str(b.path), new_id()])
    assert fd_numbers(ok(p)) == [0, 1, 2]
    assert "socket:" not in p.stdout


def test_preserved_fds_reach_the_container(pyrunc, make_bundle):
    b = make_bundle(LS_FD)
    p = with_fds(pyrunc, ["run", "--preserve-fds", "1", "-b", str(b.path), new_id()])
    out = ok(p)
    assert fd_numbers(out) == [0, 1, 2, 3]
    assert "3 -> socket:" in out


def test_listen_fds_reach_the_container(pyrunc, make_bundle):
    b = make_bundle(LS_FD)
    p = with_fds(pyrunc, ["run", "-b", str(b.path), new_id()], listen=1)
    out = ok(p)
    assert fd_numbers(out) == [0, 1, 2, 3]
    assert "3 -> socket:" in out and "LISTEN_FDS=1" in out


def test_fds_like_runc(pyrunc, runc, make_bundle):
    b = make_bundle(LS_FD)
    ours = with_fds(pyrunc, ["run", "-b", str(b.path), new_id()])
    theirs = with_fds(runc, ["run", "-b", str(b.path), new_id()])
    assert fd_numbers(ok(ours)) == fd_numbers(ok(theirs)) == [0, 1, 2]
    ours = with_fds(pyrunc, ["run", "--preserve-fds", "2", "-b", str(b.path), new_id()])
    theirs = with_fds(runc, ["run", "--preserve-fds", "2", "-b", str(b.path), new_id()])
    assert fd_numbers(ok(ours)) == fd_numbers(ok(theirs)) == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("cwd", [None, "/tmp", "/home/user"])
def test_cwd_is_inside_the_container_root(pyrunc, make_bundle, cwd):
    def edit(c):
        if cwd:
            c["process"]["cwd"] = cwd
    b = make_bundle(["sh", "-c", "pwd; readlink /proc/self/cwd; cd ..; cd ..; cd ..; ls -a | sort | tr '\\n' ' '"],
                    edit=edit)
    lines = ok(run(pyrunc, b)).splitlines()
    assert lines[0] == lines[1] == (cwd or "/")
    # climbing out ends at the container's root, not the host's
    assert lines[2].split() == sorted(os.listdir(b.rootfs) + [".", ".."])


def test_inherited_fds_do_not_reach_a_created_container_or_exec(pyrunc, make_bundle):
    """create/start and exec: fds the caller leaks (3, 4) stay outside."""
    def edit(c):
        c["root"]["readonly"] = False
        c["process"]["args"] = ["sh", "-c", "ls -l /proc/self/fd > /tmp/fds; sleep 600"]
    b = make_bundle(edit=edit)
    cid = new_id()
    p = with_fds(pyrunc, ["create", "-b", str(b.path), cid])
    assert p.returncode == 0, p.stderr
    try:
        assert with_fds(pyrunc, ["start", cid]).returncode == 0
        p = with_fds(pyrunc, ["exec", cid, "ls", "-l", "/proc/self/fd"])
        assert fd_numbers(ok(p)) == [0, 1, 2]
        p = with_fds(pyrunc, ["exec", "--preserve-fds", "1", cid, "ls", "-l", "/proc/self/fd"])
        assert fd_numbers(ok(p)) == [0, 1, 2, 3]
        out = ""
        for _ in range(600):  # the init writes the file right after start
            out = pyrunc("exec", cid, "cat", "/tmp/fds").stdout
            if "->" in out:
                break
        assert fd_numbers(out) == [0, 1, 2]
    finally:
        pyrunc("delete", "--force", cid)
