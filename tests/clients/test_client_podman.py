"""podman --runtime PYRUNC (conmon -> pyrunc): cgroupfs manager, file
events, no network, rlimits pinned in containers.conf.  Tests with a
`runtime` parameter run the same steps with runc."""
from __future__ import annotations

import json
import shlex
import subprocess
import uuid

import pytest

from tests.clients.conftest import require
from tests.clients.harness import Podman, Sandbox, wait_for
from tests.clients.image import SEED_TREE, oci_archive
from tests.clients.propagation import probe, shared_source, unmount_all

IMAGE = "localhost/pbusybox:latest"
BOTH = pytest.mark.parametrize("runtime", ["runc", "pyrunc"])


class Pm:
    def __init__(self, sb: Sandbox) -> None:
        self.sb = sb
        self.p = Podman(sb, str(sb.wrapper))
        self.binaries = {"runc": "/usr/sbin/runc", "pyrunc": str(sb.wrapper)}

    def __call__(self, *args: str, runtime: str = "pyrunc", **kw) -> subprocess.CompletedProcess:
        return self.p.podman("--runtime", self.binaries[runtime], *args, **kw)

    def run(self, *args: str, runtime: str = "pyrunc", **kw) -> subprocess.CompletedProcess:
        return self("run", "--cgroup-parent", "/" + self.sb.cgroup_parent, *args, runtime=runtime, **kw)

    def argv(self, *args: str, runtime: str = "pyrunc") -> list[str]:
        return ["podman", "--cgroup-manager", "cgroupfs", "--events-backend", "file",
                "--runtime", self.binaries[runtime], *args]


@pytest.fixture(scope="module")
def pm():
    require("podman", "conmon", "runc", "script")
    sb = Sandbox("podman")
    try:
        p = Pm(sb)
        oci_archive(str(sb.dir / "image.tar"), IMAGE)
        p("load", "-i", str(sb.dir / "image.tar"), check=True)
        yield p
    finally:
        p.p.podman("rm", "-a", "-f", "-t", "0")
        left = sb.close()
        assert left == [], f"left behind: {left}"


def name() -> str:
    return "p" + uuid.uuid4().hex[:10]


@pytest.fixture
def ctr(pm):
    n = name()
    pm.run("-d", "--name", n, IMAGE, "sleep", "1000", check=True)
    try:
        yield n
    finally:
        pm("rm", "-f", "-t", "0", n)


@BOTH
def test_run_output_and_exit_code(pm, runtime):
    r = pm.run("--rm", IMAGE, "sh", "-c", "echo out; echo err >&2; exit 7", runtime=runtime)
    assert (r.returncode, r.stdout) == (7, "out\n"), r.stderr
    assert "err" in r.stderr


def test_runtime_really_was_pyrunc(pm):
    n = name()
    pm.run("--rm", "--name", n, IMAGE, "true", check=True)
    verbs = [line.split()[0] for line in pm.sb.argv_lines() if line.split() and line.split()[-1] != "features"]
    assert "create" in verbs and "start" in verbs


def test_exec_stdin_env_user_workdir(pm, ctr):
    r = pm("exec", "-i", ctr, "sh", "-c", "read x; echo got:$x", input="piped\n")
    assert (r.returncode, r.stdout) == (0, "got:piped\n"), r.stderr
    r = pm("exec", "--env", "FOO=bar", "--user", "1000:1000", "--workdir", "/tmp", ctr,
           "sh", "-c", 'echo "$FOO"; id -u; id -g; pwd; exit 3')
    assert r.returncode == 3, r.stderr
    assert r.stdout.split() == ["bar", "1000", "1000", "/tmp"]


def test_logs(pm):
    n = name()
    r = pm.run("--name", n, IMAGE, "sh", "-c", "echo line1; echo line2 >&2")
    try:
        assert r.returncode == 0, r.stderr
        logs = pm("logs", n)
        assert "line1" in logs.stdout + logs.stderr and "line2" in logs.stdout + logs.stderr
    finally:
        pm("rm", "-f", n)


def test_top(pm, ctr):
    r = pm("top", ctr)
    assert r.returncode == 0, r.stderr
    assert "sleep 1000" in r.stdout


@BOTH
def test_stop_with_grace(pm, runtime):
    n = name()
    pm.run("-d", "--name", n, IMAGE, "sh", "-c", "trap 'echo bye; exit 0' TERM; echo ready; while :; do sleep 1; done",
           runtime=runtime, check=True)
    try:
        wait_for(lambda: "ready" in pm("logs", n).stdout, what="ready")
        pm("stop", "-t", "30", n, runtime=runtime, check=True)
        assert pm("inspect", "-f", "{{.State.ExitCode}}", n).stdout.strip() == "0"
        assert "bye" in pm("logs", n).stdout
    finally:
        pm("rm", "-f", n)


def test_restart(pm, ctr):
    pid0 = pm("inspect", "-f", "{{.State.Pid}}", ctr, check=True).stdout.strip()
    pm("restart", "-t", "1", ctr, check=True)
    st = pm("inspect", "-f", "{{.State.Status}} {{.State.Pid}}", ctr, check=True).stdout.split()
    assert st[0] == "running" and st[1] != pid0
    assert pm("exec", ctr, "echo", "alive").stdout == "alive\n"


@BOTH
def test_tty(pm, runtime):
    argv = pm.argv("run", "--rm", "-t", "--cgroup-parent", "/" + pm.sb.cgroup_parent, IMAGE, "sh", "-c", "tty; exit 4",
                   runtime=runtime)
    r = subprocess.run(["script", "-qec", shlex.join(pm.sb.nsenter(argv)), "/dev/null"], capture_output=True,
                       text=True, timeout=60, stdin=subprocess.DEVNULL, env=pm.p.env)
    assert r.returncode == 4, r.stdout + r.stderr
    assert "/dev/pts/0" in r.stdout


def test_exec_tty(pm, ctr):
    argv = pm.argv("exec", "-t", ctr, "sh", "-c", "tty; exit 2")
    r = subprocess.run(["script", "-qec", shlex.join(pm.sb.nsenter(argv)), "/dev/null"], capture_output=True,
                       text=True, timeout=60, stdin=subprocess.DEVNULL, env=pm.p.env)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "/dev/pts/" in r.stdout


def _hard(kind: str) -> int:
    import resource

    return resource.getrlimit(kind)[1]


def test_rlimit_above_hard_limit_says_why(pm):
    """podman's own default (nofile 1048576) is above what root without
    CAP_SYS_RESOURCE may raise to here: the error must say so."""
    import resource

    hard = _hard(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard >= 1048576:
        pytest.skip("the hard open-files limit here is already high enough")
    r = pm.run("--rm", "--ulimit", "nofile=1048576:1048576", IMAGE, "true")
    assert r.returncode != 0
    msg = r.stderr
    assert "RLIMIT_NOFILE" in msg, msg
    assert "1048576" in msg, msg
    assert "CAP_SYS_RESOURCE" in msg or str(hard) in msg, msg


def test_default_runtime_from_containers_conf(pm):
    """No --runtime: containers.conf `runtime = "pyrunc"` + [engine.runtimes]."""
    n = name()
    before = len(pm.sb.argv_lines())
    r = pm.p.podman("run", "--rm", "--name", n, "--cgroup-parent", "/" + pm.sb.cgroup_parent, IMAGE,
                    "sh", "-c", "echo conf; exit 6")
    assert (r.returncode, r.stdout) == (6, "conf\n"), r.stderr
    assert any(line.startswith("create ") for line in pm.sb.argv_lines()[before:])
    assert pm.p.podman("info", "--format", "{{.Host.OCIRuntime.Name}}").stdout.strip() == "pyrunc"


@pytest.mark.parametrize("flags", [["--read-only"], ["--read-only", "--read-only-tmpfs=false"]],
                         ids=["read-only", "read-only-tmpfs-false"])
def test_read_only_like_runc(pm, flags):
    """podman --read-only mounts /run, /tmp, /var/tmp as tmpfs with runc's
    tmpcopyup (read-only ones with --read-only-tmpfs=false); the same view
    under runc and pyrunc (issue 13 item 2)."""
    script = ("for d in /tmp /run /var/tmp /etc; do touch $d/x 2>/dev/null && echo $d rw || echo $d ro; done; "
              "grep -E ' /(tmp|run|var/tmp|dev) ' /proc/self/mountinfo | cut -d' ' -f5,6 | sort; "
              "stat -c '%n %a' /tmp /run /var/tmp 2>&1; true")
    outs = {}
    for runtime in ("runc", "pyrunc"):
        r = pm.run("--rm", *flags, IMAGE, "sh", "-c", script, runtime=runtime)
        assert r.returncode == 0, (runtime, r.stderr)
        outs[runtime] = r.stdout
    assert "/etc ro" in outs["pyrunc"]
    assert outs["pyrunc"] == outs["runc"]


def test_rshared_volume_like_runc(pm):
    """-v SRC:DST:rshared on a shared mount (in podman's mount namespace): a
    mount made in a container with CAP_SYS_ADMIN reaches it, with runc and pyrunc
    alike (issue 13 item 1)."""
    vol = pm.sb.dir / f"vol-{name()}"
    vol.mkdir()
    sh = lambda cmd: pm.sb.run(["sh", "-c", cmd])  # noqa: E731
    assert sh(f"mount -t tmpfs pvol {vol} && mount --make-shared {vol} && mkdir {vol}/runc {vol}/pyrunc").returncode == 0
    try:
        for runtime in ("runc", "pyrunc"):
            # not --privileged: its device list (fileMode with the type bits) is refused by the
            # schema check, a separate parity item
            r = pm.run("--rm", "--cap-add", "SYS_ADMIN", "-v", f"{vol}:/vol:rshared", IMAGE, "sh", "-c",
                       f"mount -t tmpfs inner /vol/{runtime} && touch /vol/{runtime}/made-inside && "
                       "grep ' /vol ' /proc/self/mountinfo | grep -o 'shared:'", runtime=runtime)
            assert (r.returncode, r.stdout) == (0, "shared:\n"), (runtime, r.stderr)
            assert sh(f"test -e {vol}/{runtime}/made-inside").returncode == 0, runtime
    finally:
        sh(f"umount -R -l {vol}")


# ---- issue 13 (clients): what podman sends, under runc and pyrunc ----

SEEDED = "localhost/pbusybox-seeded:latest"


@pytest.fixture(scope="module")
def seeded(pm):
    """A second image, loaded once for the module, whose /run, /tmp and /var/tmp are not empty."""
    oci_archive(str(pm.sb.dir / "seeded.tar"), SEEDED, tree=SEED_TREE)
    pm("load", "-i", str(pm.sb.dir / "seeded.tar"), check=True)
    return SEEDED


def run_with_config(pm: Pm, runtime: str, *args: str, **kw) -> tuple[subprocess.CompletedProcess, dict]:
    """`podman run` (kept until its config.json is read, then removed):
    the result and the OCI config podman generated."""
    n = name()
    r = pm.run("--name", n, *args, runtime=runtime, **kw)
    try:
        path = pm("inspect", "-f", "{{.OCIConfigPath}}", n, check=True).stdout.strip()
        cfg = json.loads(pm.sb.run(["cat", path], check=True).stdout)
    finally:
        pm("rm", "-f", "-t", "0", n)
    return r, cfg


RO_VIEW = r"""
for d in /tmp /run /var/tmp; do echo "$d $(stat -c '%a %u:%g' $d): $(ls -A $d | tr '\n' ' ')"; done
stat -c '%n %a %u:%g %F' /run/seed /run/user /run/user/f /run/link /var/tmp/keep /tmp/seed
readlink /run/link; cat /run/seed /run/user/f /var/tmp/keep /tmp/seed
awk '$2=="/tmp"||$2=="/run"||$2=="/var/tmp"{print $2, $3, $4} $2=="/"{split($4, o, ","); print $2, $3, o[1]}' /proc/mounts | sort
for d in / /etc /tmp /run /var/tmp; do if touch $d/probe 2>/dev/null; then echo "$d writable"; else echo "$d read-only"; fi; done
"""


@pytest.fixture(scope="module", params=[["--read-only"], ["--read-only", "--read-only-tmpfs=true"]],
                ids=["read-only", "read-only-tmpfs"])
def ro_views(request, pm, seeded):
    """RO_VIEW under runc and pyrunc for one set of flags (run once, read by
    the tests below): runtime -> (superblock options of the tmpfs mounts,
    everything else the container printed)."""
    seen = {}
    for runtime in ("runc", "pyrunc"):
        r, cfg = run_with_config(pm, runtime, *request.param, seeded, "sh", "-c", RO_VIEW)
        assert r.returncode == 0, f"{runtime}: {r.stderr}"
        opts = {m["destination"]: m.get("options", []) for m in cfg["mounts"] if m.get("type") == "tmpfs"}
        assert all("tmpcopyup" in opts.get(d, []) for d in ("/run", "/tmp", "/var/tmp")), opts
        assert cfg["root"].get("readonly") is True
        lines = r.stdout.splitlines(keepends=True)
        sb_opts = "".join(line for line in lines if line.split()[1:2] == ["tmpfs"])
        seen[runtime] = (sb_opts, "".join(line for line in lines if line.split()[1:2] != ["tmpfs"]))
    return seen


def test_read_only_tmpfs_copyup(ro_views):
    """podman --read-only (--read-only-tmpfs=true is its default): a
    read-only rootfs with tmpfs on /run, /tmp, /var/tmp carrying runc's
    `tmpcopyup`: each starts with a copy of the image's directory (content,
    owners, modes, symlinks as symlinks) and takes the directory's mode."""
    assert ro_views["pyrunc"][1] == ro_views["runc"][1]
    out = ro_views["pyrunc"][1]
    assert "/run 710 0:0: link seed user " in out and "/run/user 700 1000:1000 directory" in out, out
    assert "/run/link 777 0:0 symbolic link" in out and "seed-run\nnested\nkeep\nseed-tmp\n" in out, out
    assert "/ overlay ro\n" in out, out
    assert "/ read-only\n/etc read-only\n/tmp writable\n/run writable\n/var/tmp writable\n" in out, out


def test_read_only_tmpfs_mount_options(ro_views):
    """The tmpfs superblocks as /proc/mounts shows them: runc 1.1 mounts
    with the config's data only and then chmods the new root to the
    covered directory's mode, so no mode= appears."""
    assert ro_views["pyrunc"][0] == ro_views["runc"][0]
    assert "/run tmpfs rw,nosuid,nodev,relatime\n" in ro_views["runc"][0]


USER_STDIO = "echo x > /dev/stdout; echo y > /dev/stderr; echo z > /proc/self/fd/1; read l < /dev/stdin; echo got:$l; id -u"


def test_user_stdio(pm):
    """--user 1000: the container's pipes (from conmon) are usable by the
    user through /dev/stdout, /dev/stderr, /proc/self/fd/N and /dev/stdin."""
    seen = {}
    for runtime in ("runc", "pyrunc"):
        r = pm.run("--rm", "-i", "--user", "1000", IMAGE, "sh", "-c", USER_STDIO, input="in\n", runtime=runtime)
        seen[runtime] = (r.returncode, r.stdout, "y" in r.stderr.split())
    assert seen["pyrunc"] == seen["runc"] == (0, "x\nz\ngot:in\n1000\n", True), seen


def test_user_tty(pm):
    """--user 1000 -t: the pty is the user's (runc chowns it), /dev/stdout works."""
    seen = {}
    for runtime in ("runc", "pyrunc"):
        argv = pm.argv("run", "--rm", "-t", "--user", "1000", "--cgroup-parent", "/" + pm.sb.cgroup_parent, IMAGE,
                       "sh", "-c", "echo x > /dev/stdout; tty; stat -c '%u %a' $(tty)", runtime=runtime)
        r = subprocess.run(["script", "-qec", shlex.join(pm.sb.nsenter(argv)), "/dev/null"], capture_output=True,
                           text=True, timeout=60, stdin=subprocess.DEVNULL, env=pm.p.env)
        seen[runtime] = (r.returncode, r.stdout.replace("\r", "").split())
    assert seen["pyrunc"] == seen["runc"], seen
    assert seen["pyrunc"][0] == 0 and seen["pyrunc"][1][:2] == ["x", "/dev/pts/0"], seen
    assert seen["pyrunc"][1][2] == "1000", seen


NET_VIEW = r"""
cat /sys/class/net/lo/operstate; ls /sys/class/net | tr '\n' ' '; echo
ip -o -4 addr show lo | awk '{print $2, $4}'
nc -l -p 8080 -e echo hello-from-server &
for i in $(seq 300); do r=$(nc 127.0.0.1 8080 </dev/null 2>/dev/null) && [ -n "$r" ] && break; sleep 0.1; done
echo "client: $r"
kill $! 2>/dev/null; wait
"""


def test_network_none_localhost(pm):
    """--network none: a new network namespace whose lo is up with
    127.0.0.1, so a server on localhost inside is reachable."""
    seen = {}
    for runtime in ("runc", "pyrunc"):
        r = pm.run("--rm", "--network", "none", IMAGE, "sh", "-c", NET_VIEW, runtime=runtime)
        seen[runtime] = (r.returncode, r.stdout)
    assert seen["pyrunc"] == seen["runc"], seen
    assert seen["pyrunc"][0] == 0 and "lo 127.0.0.1/8" in seen["pyrunc"][1], seen
    assert "client: hello-from-server" in seen["pyrunc"][1], seen


@pytest.mark.parametrize("mode,expect", [
    ("rshared", {"tags": ["shared"], "inside mount reaches host": True, "host mount appears inside": True}),
    ("rslave", {"tags": ["master"], "inside mount reaches host": False, "host mount appears inside": True}),
])
def test_bind_volume_propagation(pm, mode, expect):
    """-v SRC:/vol:rshared|rslave with SRC a shared mount: with rslave a
    mount made on the host after start appears inside and nothing goes
    back; with rshared it also goes from the container to the host."""
    seen = {}
    for runtime in ("runc", "pyrunc"):
        src = shared_source(pm.sb, runtime)
        n = name()
        try:
            pm.run("-d", "--name", n, "--cap-add", "SYS_ADMIN", "-v", f"{src}:/vol:{mode}", IMAGE, "sleep", "1000",
                   runtime=runtime, check=True)
            seen[runtime] = probe(pm.sb, src, lambda script: pm("exec", n, "sh", "-c", script))
        finally:
            pm("rm", "-f", "-t", "0", n)
            left = unmount_all(pm.sb, src)
            assert left == [], f"mounts left: {left}"
    assert seen["pyrunc"] == seen["runc"] == expect, seen


DEV_VIEW = ("for f in $(find /dev -xdev -type c -o -xdev -type b | sort); do stat -c '%n %a %u:%g %F %t:%T' $f; done;"
            "grep CapEff /proc/self/status")


def test_privileged_like_runc(pm):
    """podman --privileged passes every host device with its whole st_mode
    as linux.devices[].fileMode (0o20666 for a char device, past the
    schema's 0-511): runc drops the file type bits and so does pyrunc (it
    refused the config); the nodes made are the same."""
    seen = {}
    for runtime in ("runc", "pyrunc"):
        r, cfg = run_with_config(pm, runtime, "--privileged", IMAGE, "sh", "-c", DEV_VIEW)
        seen[runtime] = (r.returncode, r.stdout, r.stderr)
        modes = [d.get("fileMode", 0) for d in cfg["linux"]["devices"]]
        assert max(modes) > 0o7777, modes  # what the test is about: type bits in fileMode
    lines = {rt: seen[rt][1].splitlines() for rt in seen}
    assert sorted(set(lines["pyrunc"]) ^ set(lines["runc"])) == [], seen
    assert seen["pyrunc"] == seen["runc"], seen
    assert seen["pyrunc"][0] == 0 and "/dev/full 666 0:0 character special file 1:7" in seen["pyrunc"][1], seen
