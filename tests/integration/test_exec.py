"""`exec` on real busybox containers: output and exit status, the process
spec flags, the namespaces and cgroup the process lands in, detach and
pid files, and the refusals (paused, stopped, bad flag combinations)."""
from __future__ import annotations

import json
import os
import signal
import time

import pytest

from tests.conftest import new_id


@pytest.fixture
def running(pyrunc, make_bundle):
    """Detached containers running `sleep`, deleted at teardown."""
    made: list[str] = []

    def start(edit=None):
        cid = new_id("ex")
        b = make_bundle(["sleep", "1000"], edit)
        made.append(cid)
        pyrunc("run", "-d", "-b", str(b.path), cid, check=True)
        return cid, b, pyrunc.state(cid)["pid"]

    yield start
    for cid in made:
        pyrunc("delete", "--force", cid)


def ns_inodes(pid: int | str) -> dict[str, str]:
    out = {}
    for name in ("mnt", "pid", "net", "ipc", "uts", "cgroup", "user", "time"):
        try:
            out[name] = os.readlink(f"/proc/{pid}/ns/{name}")
        except FileNotFoundError:
            pass
    return out


def test_exec_output_and_exit_status(pyrunc, running):
    cid, _, _ = running()
    p = pyrunc("exec", cid, "sh", "-c", "echo out; echo err >&2; exit 7")
    assert p.returncode == 7
    assert p.stdout == "out\n"
    assert p.stderr == "err\n"
    assert pyrunc("exec", cid, "true").returncode == 0


def test_exec_killed_by_signal_is_128_plus_n(pyrunc, running):
    cid, _, _ = running()
    assert pyrunc("exec", cid, "sh", "-c", "kill -9 $$").returncode == 128 + 9


def test_exec_args_after_the_id_are_the_command_s(pyrunc, running):
    cid, _, _ = running()
    p = pyrunc("exec", cid, "ls", "-d", "/proc")
    assert p.returncode == 0 and p.stdout == "/proc\n"


def test_exec_joins_every_namespace_and_the_cgroup(pyrunc, running):
    cid, _, init_pid = running(lambda c: c["linux"]["namespaces"].extend([{"type": "cgroup"}, {"type": "time"}]))
    script = ("for n in mnt pid net ipc uts cgroup user time; do echo $n=$(readlink /proc/self/ns/$n); done;"
              " echo mypid=$$")
    p = pyrunc("exec", cid, "sh", "-c", script)
    assert p.returncode == 0, p.stderr
    got = dict(line.split("=", 1) for line in p.stdout.splitlines())
    # readlink of /proc/self/ns in the container names the same inodes as the init's
    want = ns_inodes(init_pid)
    for name, link in want.items():
        assert got[name] == link, name
    assert int(got["mypid"]) > 1  # a pid of the container's namespace (the init is 1)
    assert ns_inodes("self")["pid"] != want["pid"]


def test_exec_process_is_in_the_init_s_cgroup(pyrunc, running, tmp_path):
    cid, _, init_pid = running()
    pidfile = tmp_path / "exec.pid"
    pyrunc("exec", "-d", "--pid-file", str(pidfile), cid, "sleep", "100", check=True)
    pid = int(pidfile.read_text())  # decimal, host pid
    with open(f"/proc/{pid}/cgroup") as f:
        mine = f.read()
    with open(f"/proc/{init_pid}/cgroup") as f:
        init = f.read()
    assert mine == init and cid in mine
    assert ns_inodes(pid) == ns_inodes(init_pid)
    # exec -d returns once the process is set up, maybe just before its
    # execve (runc's too): give the exec a moment
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmd = f.read().split(b"\0")[:2]
        if cmd == [b"sleep", b"100"]:
            break
        time.sleep(0.01)
    assert cmd == [b"sleep", b"100"]
    # detached: the process outlives pyrunc and dies with the container
    pyrunc("kill", cid, "KILL", check=True)
    deadline = time.monotonic() + 10
    while os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
        with open(f"/proc/{pid}/stat") as f:
            if f.read().split(")")[-1].split()[0] == "Z":
                break
        time.sleep(0.02)
    assert not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split(")")[-1].split()[0] == "Z"


def test_exec_env_cwd_user_and_groups(pyrunc, running):
    cid, _, _ = running(lambda c: c["process"]["env"].append("FROM_SPEC=1"))
    p = pyrunc("exec", "-e", "FOO=bar", "--env", "FROM_SPEC=2", "--cwd", "/tmp", "-u", "1000:1000",
               "-g", "10", "-g", "20", cid, "sh", "-c", "echo $FOO $FROM_SPEC; pwd; id -u; id -g; id -G")
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == ["bar 2", "/tmp", "1000", "1000", "1000 10 20"]
    p = pyrunc("exec", "-u", "1000", cid, "sh", "-c", "echo $(id -u) $(id -g) $HOME")
    assert p.stdout == "1000 0 /home/user\n"  # gid from the spec, HOME from the container's /etc/passwd (runc)


def test_exec_caps_and_no_new_privs(pyrunc, running):
    cid, _, _ = running(lambda c: c["process"].update(noNewPrivileges=False))
    capeff = "grep -E '^(CapEff|CapBnd|NoNewPrivs)' /proc/self/status"
    base = dict(l.split(":\t") for l in pyrunc("exec", cid, "sh", "-c", capeff, check=True).stdout.splitlines())
    assert base["NoNewPrivs"] == "0"
    p = pyrunc("exec", "--cap", "CAP_SYS_ADMIN", "--no-new-privs", cid, "sh", "-c", capeff, check=True)
    got = dict(l.split(":\t") for l in p.stdout.splitlines())
    sys_admin = 1 << 21
    assert not int(base["CapEff"], 16) & sys_admin
    assert int(got["CapEff"], 16) & sys_admin and int(got["CapBnd"], 16) & sys_admin
    assert got["NoNewPrivs"] == "1"


def test_exec_process_file(pyrunc, running, tmp_path):
    cid, _, _ = running()
    proc = {"terminal": False, "user": {"uid": 1000, "gid": 1000}, "args": ["sh", "-c", "echo $X $(id -u); pwd"],
            "env": ["PATH=/bin", "X=fromfile"], "cwd": "/home/user"}
    f = tmp_path / "process.json"
    f.write_text(json.dumps(proc))
    p = pyrunc("exec", "--process", str(f), cid)
    assert p.returncode == 0, p.stderr
    assert p.stdout == "fromfile 1000\n/home/user\n"
    f.write_text(json.dumps({"args": ["true"], "cwd": "relative"}))
    p = pyrunc("exec", "-p", str(f), cid)
    assert p.returncode == 255 and "cwd" in p.stderr


def test_exec_runtime_failures_exit_255(pyrunc, running):
    cid, _, _ = running()
    p = pyrunc("exec", cid, "no-such-command")
    assert p.returncode == 255
    assert "no-such-command" in p.stderr and "not found" in p.stderr
    p = pyrunc("exec", "--cwd", "/does/not/exist", cid, "true")
    assert p.returncode == 255 and "/does/not/exist" in p.stderr
    p = pyrunc("exec", "nonexistent-container", "true")
    assert p.returncode == 255 and "does not exist" in p.stderr
    p = pyrunc("exec", cid)
    assert p.returncode == 255 and "exec args cannot be empty" in p.stderr


def test_exec_refuses_paused_unless_ignore_paused(pyrunc, running, tmp_path):
    cid, _, init_pid = running()
    pyrunc("pause", cid, check=True)
    try:
        p = pyrunc("exec", cid, "true")
        assert p.returncode == 255 and "paused" in p.stderr and "--ignore-paused" in p.stderr
        pidfile = tmp_path / "pid"
        p = pyrunc("exec", "-d", "--ignore-paused", "--pid-file", str(pidfile), cid, "sleep", "50")
        assert p.returncode == 0, p.stderr
        pid = int(pidfile.read_text())
        with open(f"/proc/{pid}/cgroup") as f, open(f"/proc/{init_pid}/cgroup") as g:
            assert f.read() == g.read()  # joined the (frozen) cgroup
    finally:
        pyrunc("resume", cid)
    assert pyrunc.state(cid)["status"] == "running"


def test_exec_refuses_a_stopped_container(pyrunc, make_bundle):
    cid = new_id("ex")
    b = make_bundle(["true"])
    try:
        pyrunc("run", "--keep", "-b", str(b.path), cid, check=True)
        assert pyrunc.state(cid)["status"] == "stopped"
        p = pyrunc("exec", cid, "true")
        assert p.returncode == 255 and "stopped" in p.stderr
    finally:
        pyrunc("delete", "--force", cid)


def test_exec_into_a_created_container(pyrunc, make_bundle):
    cid = new_id("ex")
    b = make_bundle(["sleep", "1000"])
    try:
        pyrunc("create", "-b", str(b.path), cid, check=True)
        p = pyrunc("exec", cid, "echo", "before start")
        assert p.returncode == 0 and p.stdout == "before start\n"
        assert pyrunc.state(cid)["status"] == "created"
    finally:
        pyrunc("delete", "--force", cid)


def test_exec_refuses_bad_terminal_combinations(pyrunc, running, tmp_path):
    cid, _, _ = running()
    p = pyrunc("exec", "-t", "-d", cid, "true")
    assert p.returncode == 255 and "cannot allocate tty if pyrunc will detach without setting console socket" in p.stderr
    p = pyrunc("exec", "--console-socket", str(tmp_path / "sock"), cid, "true")
    assert p.returncode == 255 and "cannot use console socket if pyrunc will not detach or allocate tty" in p.stderr


def test_exec_lsm_labels_are_refused_clearly(pyrunc, running):
    cid, _, _ = running()
    p = pyrunc("exec", "--apparmor", "unconfined", cid, "true")
    assert p.returncode == 255 and "apparmorProfile" in p.stderr and "not enabled" in p.stderr
    p = pyrunc("exec", "--process-label", "system_u:system_r:container_t:s0", cid, "true")
    assert p.returncode == 255 and "selinuxLabel" in p.stderr and "disabled" in p.stderr


def test_exec_gets_the_container_seccomp_and_rlimits(pyrunc, running):
    def edit(c):
        c["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "hard": 512, "soft": 256}]
        c["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW",
                                 "syscalls": [{"names": ["mkdirat", "mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}

    cid, _, _ = running(edit)
    p = pyrunc("exec", cid, "sh", "-c", "ulimit -n; ulimit -Hn; mkdir /tmp/x; echo $?; grep Seccomp: /proc/self/status")
    lines = p.stdout.splitlines()
    assert lines[:3] == ["256", "512", "1"]
    assert lines[3].split() == ["Seccomp:", "2"]


def test_exec_into_a_sub_cgroup(pyrunc, running, tmp_path):
    cid, _, init_pid = running()
    with open(f"/proc/{init_pid}/cgroup") as f:
        lines = [l.strip().split(":", 2) for l in f]
    pids_rel = next(path for _, ctrls, path in lines if "pids" in ctrls.split(","))
    sub = f"/sys/fs/cgroup/pids{pids_rel}/sub"
    if not os.path.isdir(f"/sys/fs/cgroup/pids{pids_rel}"):
        pytest.skip("no cgroup v1 pids hierarchy here")
    os.mkdir(sub)
    try:
        pidfile = tmp_path / "pid"
        pyrunc("exec", "-d", "--pid-file", str(pidfile), "--cgroup", "pids:sub", cid, "sleep", "100", check=True)
        pid = int(pidfile.read_text())
        with open(f"/proc/{pid}/cgroup") as f:
            got = {ctrls: path for _, ctrls, path in (l.strip().split(":", 2) for l in f)}
        assert got["pids"] == pids_rel + "/sub"
        init = {ctrls: path for _, ctrls, path in lines}
        assert {k: v for k, v in got.items() if k != "pids"} == {k: v for k, v in init.items() if k != "pids"}
        p = pyrunc("exec", "--cgroup", "pids:missing", cid, "true")
        assert p.returncode == 255 and "does not exist" in p.stderr
    finally:
        # empty and remove the sub-cgroup before the container's goes
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with open(f"{sub}/cgroup.procs") as f:
                left = [int(x) for x in f.read().split()]
            if not left:
                break
            for x in left:
                try:
                    os.kill(x, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.02)
        os.rmdir(sub)


def test_exec_stdin_is_passed_through(pyrunc, running):
    import subprocess

    from tests.conftest import PYRUNC

    cid, _, _ = running()
    p = subprocess.run([*PYRUNC, "--root", str(pyrunc.root), "exec", cid, "sh", "-c", "tr a-z A-Z"],
                       input="piped in\n", capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and p.stdout == "PIPED IN\n"


def test_foreground_exec_forwards_signals(pyrunc, running):
    import subprocess

    from tests.conftest import PYRUNC

    cid, _, _ = running()
    p = subprocess.Popen([*PYRUNC, "--root", str(pyrunc.root), "exec", cid, "sh", "-c",
                          "trap 'echo got-term; exit 42' TERM; echo ready; while true; do sleep 0.05; done"],
                         stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline() == "ready\n"
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=30) == 42
        assert p.stdout.read() == "got-term\n"
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        p.stdout.close()
