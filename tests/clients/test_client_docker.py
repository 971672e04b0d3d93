"""docker CLI -> dockerd -> containerd -> containerd-shim-runc-v2 -> pyrunc,
with pyrunc registered through `--add-runtime`.  Tests marked with a
`runtime` parameter run the same steps with runc in the same daemon, so a
failure of the environment shows up on both."""
from __future__ import annotations

import json
import uuid

import pytest

from tests.clients.conftest import require
from tests.clients.harness import Docker, Sandbox, start_containerd, wait_for
from tests.clients.image import SEED_TREE, rootfs_tar
from tests.clients.propagation import probe, shared_source, unmount_all

IMAGE = "pbusybox:latest"
BOTH = pytest.mark.parametrize("runtime", ["runc", "pyrunc"])


@pytest.fixture(scope="module")
def dk():
    require("dockerd", "containerd", "docker", "runc")
    sb = Sandbox("docker")
    try:
        _p, sock = start_containerd(sb)
        d = Docker(sb, sock)
        d.start({}, ["--add-runtime", f"pyrunc={sb.wrapper}"])
        (sb.dir / "rootfs.tar").write_bytes(rootfs_tar())
        d.docker("import", "-c", 'CMD ["sh"]', str(sb.dir / "rootfs.tar"), IMAGE, check=True)
        yield d
    finally:
        left = sb.close()
        assert left == [], f"left behind: {left}"


def name() -> str:
    return "c" + uuid.uuid4().hex[:10]


@pytest.fixture
def ctr(dk):
    """A detached pyrunc container running `sleep`; removed afterwards."""
    n = name()
    dk.docker("run", "-d", "--runtime", "pyrunc", "--name", n, IMAGE, "sleep", "1000", check=True)
    try:
        yield n
    finally:
        dk.docker("rm", "-f", n)


def inspect(dk: Docker, n: str, fmt: str) -> str:
    return dk.docker("inspect", "-f", fmt, n, check=True).stdout.strip()


@BOTH
def test_run_rm_output_and_exit_codes(dk, runtime):
    r = dk.docker("run", "--rm", "--runtime", runtime, IMAGE, "sh", "-c", "echo out; echo err >&2; exit 7")
    assert r.returncode == 7
    assert r.stdout == "out\n"
    assert "err\n" in r.stderr
    r = dk.docker("run", "--rm", "--runtime", runtime, IMAGE, "true")
    assert (r.returncode, r.stdout) == (0, "")


@BOTH
def test_missing_command_is_127_with_a_useful_message(dk, runtime):
    r = dk.docker("run", "--rm", "--runtime", runtime, IMAGE, "/no/such/binary")
    assert r.returncode == 127, r.stderr
    assert "/no/such/binary" in r.stderr
    assert "no such file or directory" in r.stderr.lower()


def test_runtime_really_was_pyrunc(dk):
    n = name()
    dk.docker("run", "--rm", "--runtime", "pyrunc", "--name", n, IMAGE, "true", check=True)
    full = [line for line in dk.sb.argv_lines() if " create " in f" {line} "]
    assert any("--log-format json create --bundle" in line for line in full)
    assert "pyrunc" in dk.docker("info", "--format", "{{json .Runtimes}}", check=True).stdout


def test_exec_plain_and_exit_code(dk, ctr):
    r = dk.docker("exec", ctr, "sh", "-c", "echo hi; echo $HOSTNAME")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0] == "hi"
    assert dk.docker("exec", ctr, "sh", "-c", "exit 5").returncode == 5
    # exec joins the container: same pid namespace, pid 1 is sleep
    assert dk.docker("exec", ctr, "cat", "/proc/1/cmdline").stdout.startswith("sleep")


def test_exec_tty(dk, ctr):
    r = dk.docker("exec", "-t", ctr, "sh", "-c", "tty; readlink /proc/self/fd/1; echo ok")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.split()
    assert lines[0].startswith("/dev/pts/") and lines[1] == lines[0]
    assert lines[2] == "ok"


def test_exec_stdin(dk, ctr):
    r = dk.docker("exec", "-i", ctr, "sh", "-c", "read x; echo got:$x", input="hello\n")
    assert r.stdout == "got:hello\n", r.stderr


def test_top(dk, ctr):
    r = dk.docker("top", ctr)
    assert r.returncode == 0, r.stderr
    assert "sleep 1000" in r.stdout
    cid = inspect(dk, ctr, "{{.Id}}")
    assert any(line.endswith(f"ps --format json {cid}") for line in dk.sb.argv_lines())


def test_update_resources_of_running_container(dk, ctr):
    dk.docker("update", "--memory", "96m", "--memory-swap", "96m", "--pids-limit", "33", ctr, check=True)
    cid = inspect(dk, ctr, "{{.Id}}")
    assert any(line.endswith(f"update --resources - {cid}") for line in dk.sb.argv_lines())
    r = dk.docker("exec", ctr, "cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/pids/pids.max")
    assert r.stdout.split() == [str(96 << 20), "33"], r.stderr


def test_runtime_error_reaches_the_user(dk):
    """docker shows the msg of pyrunc's last error log line: it must name
    the problem (here an rlimit root may not raise without CAP_SYS_RESOURCE)."""
    import resource

    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard == resource.RLIM_INFINITY or hard >= 1048576:
        pytest.skip("the hard open-files limit here is already high enough")
    r = dk.docker("run", "--rm", "--runtime", "pyrunc", "--ulimit", "nofile=1048576:1048576", IMAGE, "true")
    assert r.returncode == 125
    assert "OCI runtime create failed" in r.stderr
    assert "RLIMIT_NOFILE" in r.stderr and "CAP_SYS_RESOURCE" in r.stderr, r.stderr
    assert "internal error" not in r.stderr


def test_stats_no_stream(dk, ctr):
    r = dk.docker("stats", "--no-stream", "--format", "{{.PIDs}} {{.MemUsage}}", ctr)
    assert r.returncode == 0, r.stderr
    pids, mem = r.stdout.split(" ", 1)
    assert int(pids) >= 1
    assert not mem.startswith("0B")


def test_pause_unpause(dk, ctr):
    dk.docker("pause", ctr, check=True)
    try:
        assert inspect(dk, ctr, "{{.State.Status}}") == "paused"
        r = dk.docker("exec", ctr, "true")
        assert r.returncode != 0
        assert "paused" in r.stderr
    finally:
        dk.docker("unpause", ctr, check=True)
    assert inspect(dk, ctr, "{{.State.Status}}") == "running"
    assert dk.docker("exec", ctr, "echo", "back").stdout == "back\n"


@BOTH
def test_stop_within_grace(dk, runtime):
    n = name()
    dk.docker("run", "-d", "--runtime", runtime, "--name", n, IMAGE, "sh", "-c",
              "trap 'echo bye; exit 0' TERM; echo ready; while :; do sleep 1; done", check=True)
    try:
        wait_for(lambda: "ready" in dk.docker("logs", n).stdout, what="container ready")
        dk.docker("stop", "-t", "30", n, check=True)
        # 0: the TERM trap ran; 137 would mean it was killed at the end of the grace period
        assert inspect(dk, n, "{{.State.ExitCode}}") == "0"
        assert "bye" in dk.docker("logs", n).stdout
    finally:
        dk.docker("rm", "-f", n)


def test_stop_kills_after_grace(dk):
    n = name()
    dk.docker("run", "-d", "--runtime", "pyrunc", "--name", n, IMAGE, "sh", "-c",
              "trap '' TERM; echo ready; while :; do sleep 1; done", check=True)
    try:
        wait_for(lambda: "ready" in dk.docker("logs", n).stdout, what="container ready")
        dk.docker("stop", "-t", "1", n, check=True)
        assert inspect(dk, n, "{{.State.ExitCode}}") == "137"
    finally:
        dk.docker("rm", "-f", n)


def test_restart(dk, ctr):
    before = inspect(dk, ctr, "{{.State.StartedAt}} {{.State.Pid}}")
    dk.docker("restart", "-t", "1", ctr, check=True)
    after = inspect(dk, ctr, "{{.State.StartedAt}} {{.State.Pid}}")
    assert after != before
    assert inspect(dk, ctr, "{{.State.Status}}") == "running"
    assert dk.docker("exec", ctr, "echo", "alive").stdout == "alive\n"


def test_rm_removes_runtime_state(dk):
    n = name()
    dk.docker("run", "-d", "--runtime", "pyrunc", "--name", n, IMAGE, "sleep", "1000", check=True)
    cid = inspect(dk, n, "{{.Id}}")
    dk.docker("rm", "-f", n, check=True)
    assert dk.docker("inspect", n).returncode != 0
    roots = {line.split()[1] for line in dk.sb.argv_lines() if line.startswith("--root ") and cid in line}
    assert roots
    for root in roots:
        r = dk.sb.run([str(dk.sb.wrapper), "--root", root, "state", cid])
        assert r.returncode != 0 and cid in r.stderr, r.stdout + r.stderr
        r = dk.sb.run([str(dk.sb.wrapper), "--root", root, "list", "-q"])
        assert cid not in r.stdout


@BOTH
def test_resources_enforced(dk, runtime):
    r = dk.docker("run", "--rm", "--runtime", runtime, "--memory", "64m", "--pids-limit", "20", "--cpus", "0.5",
                  IMAGE, "sh", "-c",
                  "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max "
                  "/sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == [str(64 << 20), "20", "50000", "100000"]


@BOTH
def test_pids_limit_stops_fork_bomb(dk, runtime):
    r = dk.docker("run", "--rm", "--runtime", runtime, "--pids-limit", "10", IMAGE, "sh", "-c",
                  "n=0; for i in $(seq 30); do sleep 60 & n=$((n+1)); done; echo started")
    assert "can't fork" in r.stderr or "Resource temporarily unavailable" in r.stderr, r.stderr


@BOTH
def test_memory_hog_is_oom_killed(dk, runtime):
    n = name()
    r = dk.docker("run", "--runtime", runtime, "--name", n, "--memory", "32m", "--memory-swap", "32m",
                  IMAGE, "sh", "-c", "head -c 300m /dev/zero | tail", timeout=120)
    try:
        assert r.returncode == 137, r.stderr
        assert inspect(dk, n, "{{.State.OOMKilled}}") == "true"
    finally:
        dk.docker("rm", "-f", n)


def test_read_only_no_caps_no_new_privs(dk):
    r = dk.docker("run", "--rm", "--runtime", "pyrunc", "--read-only", "--cap-drop", "ALL",
                  "--security-opt", "no-new-privileges", IMAGE, "sh", "-c",
                  "touch /x 2>&1; grep -E '^(CapEff|CapBnd|NoNewPrivs)' /proc/self/status")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "Read-only file system" in out
    assert "CapEff:\t0000000000000000" in out
    assert "CapBnd:\t0000000000000000" in out
    assert "NoNewPrivs:\t1" in out


@BOTH
def test_tty_without_terminal(dk, runtime):
    """-t with the CLI's stdin not a terminal: the container still gets a pty."""
    r = dk.docker("run", "--rm", "--runtime", runtime, "-t", IMAGE, "sh", "-c",
                  "tty; readlink /proc/self/fd/0; readlink /proc/self/fd/2; exit 3")
    assert r.returncode == 3, r.stderr
    assert r.stdout.split() == ["/dev/pts/0"] * 3


def test_user_env_workdir_hostname(dk):
    r = dk.docker("run", "--rm", "--runtime", "pyrunc", "--user", "1000:1000", "-e", "FOO=bar baz", "-w", "/tmp/wd",
                  "--hostname", "myhost", IMAGE, "sh", "-c", 'id -u; id -g; echo "$FOO"; pwd; hostname')
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["1000", "1000", "bar baz", "/tmp/wd", "myhost"]


@BOTH
def test_piped_stdin(dk, runtime):
    r = dk.docker("run", "--rm", "-i", "--runtime", runtime, IMAGE, "sh", "-c", "tr a-z A-Z; echo done",
                  input="hello\nworld\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "HELLO\nWORLD\ndone\n"


def test_read_only_with_tmpfs_like_runc(dk):
    """docker --read-only --tmpfs (issue 13 item 2): the same tmpfs mounts,
    modes and writability under runc and pyrunc (but an explicit mode=)."""
    script = ("for d in /run /tmp /etc; do touch $d/x 2>/dev/null && echo $d rw || echo $d ro; done; "
              "grep -E ' /(run|tmp) ' /proc/self/mountinfo | cut -d' ' -f5,6; stat -c '%n %a' /run /tmp")
    outs = {}
    for runtime in ("runc", "pyrunc"):
        r = dk.docker("run", "--rm", "--runtime", runtime, "--read-only", "--tmpfs", "/run",
                      "--tmpfs", "/tmp:mode=700", IMAGE, "sh", "-c", script)
        assert r.returncode == 0, (runtime, r.stderr)
        outs[runtime] = r.stdout
    assert "/run rw" in outs["pyrunc"] and "/etc ro" in outs["pyrunc"]
    # runc 1.1.5 chmods a tmpfs to the covered directory's mode after
    # mounting it, over an explicit mode= (the image's /tmp is 1777); runc
    # 1.2 and pyrunc keep what the user asked for
    assert outs["runc"].endswith("/tmp 1777\n") and outs["pyrunc"].endswith("/tmp 700\n")
    # docker keeps --tmpfs in a map: the two mounts come in either order
    assert sorted(outs["pyrunc"].rsplit("\n", 2)[0].splitlines()) == \
        sorted(outs["runc"].rsplit("\n", 2)[0].splitlines())


# ---- issue 13 (clients): what docker sends, under runc and pyrunc ----

SEEDED = "pbusybox-seeded:latest"


@pytest.fixture(scope="module")
def seeded(dk):
    """A second image, imported once for the module, whose /run is not empty (mode 0710)."""
    (dk.sb.dir / "seeded.tar").write_bytes(rootfs_tar(tree=SEED_TREE))
    dk.docker("import", "-c", 'CMD ["sh"]', str(dk.sb.dir / "seeded.tar"), SEEDED, check=True)
    return SEEDED


USER_STDIO = "echo x > /dev/stdout; echo y > /dev/stderr; echo z > /proc/self/fd/1; read l < /dev/stdin; echo got:$l; id -u"


def test_user_stdio(dk):
    """--user 1000: the shim's pipes are usable by the user through
    /dev/stdout, /dev/stderr, /proc/self/fd/N and /dev/stdin; with -t the
    pty is the user's."""
    seen = {}
    for runtime in ("runc", "pyrunc"):
        r = dk.docker("run", "--rm", "-i", "--runtime", runtime, "--user", "1000", IMAGE, "sh", "-c", USER_STDIO,
                      input="in\n")
        t = dk.docker("run", "--rm", "-t", "--runtime", runtime, "--user", "1000", IMAGE, "sh", "-c",
                      "echo x > /dev/stdout; tty; stat -c '%u %a' $(tty)")
        seen[runtime] = (r.returncode, r.stdout, "y" in r.stderr.split(), t.returncode, t.stdout.replace("\r", ""))
    assert seen["pyrunc"] == seen["runc"], seen
    assert seen["pyrunc"][:3] == (0, "x\nz\ngot:in\n1000\n", True), seen
    assert seen["pyrunc"][3:] == (0, "x\n/dev/pts/0\n1000 620\n"), seen


RO_RUN_VIEW = r"""
echo "/run $(stat -c '%a %u:%g' /run): $(ls -A /run | tr '\n' ' ')"
awk '$2=="/run"{print $2, $3, $4} $2=="/"{split($4, o, ","); print $2, $3, o[1]}' /proc/mounts | sort
for d in / /etc /tmp /run; do if touch $d/probe 2>/dev/null; then echo "$d writable"; else echo "$d read-only"; fi; done
"""


@pytest.fixture(scope="module")
def ro_run_views(dk, seeded):
    """RO_RUN_VIEW under runc and pyrunc (run once, read by the two tests
    below): runtime -> (the /run tmpfs line of /proc/mounts, the rest)."""
    seen = {}
    for runtime in ("runc", "pyrunc"):
        r = dk.docker("run", "--rm", "--runtime", runtime, "--read-only", "--tmpfs", "/run", seeded,
                      "sh", "-c", RO_RUN_VIEW)
        assert r.returncode == 0, f"{runtime}: {r.stderr}"
        lines = r.stdout.splitlines(keepends=True)
        seen[runtime] = ("".join(line for line in lines if line.split()[1:2] == ["tmpfs"]),
                         "".join(line for line in lines if line.split()[1:2] != ["tmpfs"]))
    return seen


def test_read_only_tmpfs_run(ro_run_views):
    """--read-only --tmpfs /run: a read-only rootfs with a writable tmpfs
    on /run (docker sends noexec,nosuid,nodev and no tmpcopyup: it starts
    empty) that takes the image's /run mode (0710), as runc does."""
    assert ro_run_views["pyrunc"][1] == ro_run_views["runc"][1]
    out = ro_run_views["pyrunc"][1]
    assert out.startswith("/run 710 0:0: \n"), out
    assert "/ overlay ro\n" in out and "/ read-only\n/etc read-only\n/tmp read-only\n/run writable\n" in out, out


def test_read_only_tmpfs_run_mount_options(ro_run_views):
    """The /run superblock as /proc/mounts shows it: runc 1.1 mounts with
    docker's options only, then chmods the new root (no mode= appears)."""
    assert ro_run_views["pyrunc"][0] == ro_run_views["runc"][0]
    assert ro_run_views["runc"][0] == "/run tmpfs rw,nosuid,nodev,noexec,relatime\n"


NET_VIEW = r"""
cat /sys/class/net/lo/operstate; ls /sys/class/net | tr '\n' ' '; echo
ip -o -4 addr show lo | awk '{print $2, $4}'
nc -l -p 8080 -e echo hello-from-server &
for i in $(seq 300); do r=$(nc 127.0.0.1 8080 </dev/null 2>/dev/null) && [ -n "$r" ] && break; sleep 0.1; done
echo "client: $r"
kill $! 2>/dev/null; wait
"""


def test_network_none_localhost(dk):
    """--network none: lo up with 127.0.0.1 in the new network namespace,
    a server on localhost inside is reachable."""
    seen = {}
    for runtime in ("runc", "pyrunc"):
        r = dk.docker("run", "--rm", "--runtime", runtime, "--network", "none", IMAGE, "sh", "-c", NET_VIEW)
        seen[runtime] = (r.returncode, r.stdout)
    assert seen["pyrunc"] == seen["runc"], seen
    assert seen["pyrunc"][0] == 0 and "lo 127.0.0.1/8" in seen["pyrunc"][1], seen
    assert "client: hello-from-server" in seen["pyrunc"][1], seen


def test_rshared_volume(dk):
    """-v SRC:/vol:rshared (dockerd wants SRC on a shared mount and makes
    the rootfs propagation shared): a mount made inside reaches the host,
    one made on the host after start appears inside."""
    seen = {}
    for runtime in ("runc", "pyrunc"):
        src = shared_source(dk.sb, runtime)
        n = name()
        try:
            dk.docker("run", "-d", "--runtime", runtime, "--name", n, "--cap-add", "SYS_ADMIN",
                      "-v", f"{src}:/vol:rshared", IMAGE, "sleep", "1000", check=True)
            seen[runtime] = probe(dk.sb, src, lambda script: dk.docker("exec", n, "sh", "-c", script))
        finally:
            dk.docker("rm", "-f", n)
            left = unmount_all(dk.sb, src)
            assert left == [], f"mounts left: {left}"
    expect = {"tags": ["shared"], "inside mount reaches host": True, "host mount appears inside": True}
    assert seen["pyrunc"] == seen["runc"] == expect, seen
