"""containerd (ctr) -> containerd-shim-runc-v2 -> pyrunc, selected per
container with `--runtime io.containerd.runc.v2 --runc-binary PYRUNC`.
Tests with a `runtime` parameter run the same steps with runc."""
from __future__ import annotations

import shlex
import subprocess
import uuid

import pytest

from tests.clients.conftest import require
from tests.clients.harness import Sandbox, start_containerd, wait_for
from tests.clients.image import oci_archive

IMAGE = "docker.io/library/pbusybox:latest"
BOTH = pytest.mark.parametrize("runtime", ["runc", "pyrunc"])


class Ctr:
    def __init__(self, sb: Sandbox, sock: str) -> None:
        self.sb = sb
        self.sock = sock
        self.binaries = {"runc": "/usr/sbin/runc", "pyrunc": str(sb.wrapper)}

    def ctr(self, *args: str, **kw) -> subprocess.CompletedProcess:
        return self.sb.run(["ctr", "--address", self.sock, *args], **kw)

    def run_argv(self, runtime: str, cid: str, *cmd: str, opts: tuple[str, ...] = ()) -> list[str]:
        return ["ctr", "--address", self.sock, "run", "--runtime", "io.containerd.runc.v2",
                "--runc-binary", self.binaries[runtime], "--cgroup", f"/{self.sb.cgroup_parent}/{cid}",
                *opts, IMAGE, cid, *cmd]

    def run(self, runtime: str, cid: str, *cmd: str, opts: tuple[str, ...] = ("--rm",), **kw):
        return self.sb.run(self.run_argv(runtime, cid, *cmd, opts=opts), **kw)

    def in_tty(self, argv: list[str], timeout: float = 60) -> subprocess.CompletedProcess:
        """Run argv with a pseudo-terminal as its stdin/stdout (util-linux script)."""
        return subprocess.run(["script", "-qec", shlex.join(self.sb.nsenter(argv)), "/dev/null"],
                              capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)

    def status(self, cid: str) -> str:
        for line in self.ctr("task", "ls").stdout.splitlines()[1:]:
            f = line.split()
            if f and f[0] == cid:
                return f[-1]
        return "MISSING"

    def cleanup(self, cid: str) -> None:
        self.ctr("task", "kill", "-a", "-s", "SIGKILL", cid)
        wait_for(lambda: self.status(cid) in ("STOPPED", "MISSING"), what=f"{cid} stopped")
        self.ctr("task", "delete", "-f", cid)
        self.ctr("container", "delete", cid)


@pytest.fixture(scope="module")
def ctr():
    require("containerd", "ctr", "containerd-shim-runc-v2", "runc", "script")
    sb = Sandbox("ctr")
    try:
        _p, sock = start_containerd(sb)
        oci_archive(str(sb.dir / "image.tar"), IMAGE)
        c = Ctr(sb, sock)
        c.ctr("images", "import", str(sb.dir / "image.tar"), check=True)
        yield c
    finally:
        left = sb.close()
        assert left == [], f"left behind: {left}"


def cid() -> str:
    return "t" + uuid.uuid4().hex[:10]


@pytest.fixture
def task(ctr):
    """A detached pyrunc task running sleep."""
    i = cid()
    ctr.run("pyrunc", i, "sleep", "1000", opts=("-d",), check=True)
    try:
        yield i
    finally:
        ctr.cleanup(i)


@BOTH
def test_foreground_output_and_exit_codes(ctr, runtime):
    r = ctr.run(runtime, cid(), "sh", "-c", "echo out; echo err >&2; exit 42")
    assert (r.returncode, r.stdout) == (42, "out\n"), r.stderr
    assert "err" in r.stderr
    r = ctr.run(runtime, cid(), "true")
    assert r.returncode == 0, r.stderr


def test_runc_binary_was_pyrunc(ctr):
    i = cid()
    ctr.run("pyrunc", i, "true", check=True)
    lines = [line for line in ctr.sb.argv_lines() if line.endswith(" " + i)]
    verbs = [line.split("--log-format json ", 1)[1].split()[0] for line in lines]
    assert verbs[:2] == ["create", "start"] and "delete" in verbs


def test_detached_and_exec_exit_code(ctr, task):
    assert ctr.status(task) == "RUNNING"
    r = ctr.ctr("task", "exec", "--exec-id", "e1", task, "sh", "-c", "echo from exec; exit 7")
    assert (r.returncode, r.stdout) == (7, "from exec\n"), r.stderr
    r = ctr.ctr("task", "exec", "--exec-id", "e2", task, "cat", "/proc/1/cmdline")
    assert r.stdout.startswith("sleep"), r.stderr


def test_pause_resume(ctr, task):
    ctr.ctr("task", "pause", task, check=True)
    try:
        assert ctr.status(task) == "PAUSED"
        state = open(f"/sys/fs/cgroup/freezer/{ctr.sb.cgroup_parent}/{task}/freezer.state").read().strip()
        assert state == "FROZEN"
    finally:
        ctr.ctr("task", "resume", task, check=True)
    assert ctr.status(task) == "RUNNING"
    assert ctr.ctr("task", "exec", "--exec-id", "e3", task, "true").returncode == 0


def test_metrics(ctr, task):
    r = ctr.ctr("task", "metrics", task)
    assert r.returncode == 0, r.stderr
    values = dict(line.split(None, 1) for line in r.stdout.splitlines() if line.strip() and len(line.split()) >= 2)
    assert int(values["pids.current"]) >= 1
    assert int(values["memory.usage_in_bytes"]) > 0


def _foreground(ctr: Ctr, runtime: str, i: str, script: str) -> subprocess.Popen:
    p = subprocess.Popen(ctr.sb.nsenter(ctr.run_argv(runtime, i, "sh", "-c", script, opts=("--rm",))),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    assert p.stdout is not None
    assert p.stdout.readline() == "ready\n", p.stderr.read() if p.poll() is not None else ""
    return p


@BOTH
def test_kill_delivers_signal(ctr, runtime):
    i = cid()
    p = _foreground(ctr, runtime, i, "trap 'exit 9' TERM; echo ready; while :; do sleep 1; done")
    try:
        ctr.ctr("task", "kill", "-s", "SIGTERM", i, check=True)
        assert p.wait(60) == 9
    finally:
        if p.poll() is None:
            ctr.cleanup(i)
            p.wait(30)


@BOTH
def test_kill_all(ctr, runtime):
    i = cid()
    p = _foreground(ctr, runtime, i, "sleep 1000 & sleep 1000 & echo ready; wait")
    try:
        ctr.ctr("task", "kill", "--all", "-s", "SIGKILL", i, check=True)
        assert p.wait(60) == 137
    finally:
        if p.poll() is None:
            ctr.cleanup(i)
            p.wait(30)
    if runtime == "pyrunc":
        assert any(line.startswith("--root") and f"kill --all {i} " in line + " " for line in ctr.sb.argv_lines())


@BOTH
def test_tty_run(ctr, runtime):
    i = cid()
    r = ctr.in_tty(ctr.run_argv(runtime, i, "sh", "-c", "tty; exit 5", opts=("--rm", "-t")))
    assert r.returncode == 5, r.stdout + r.stderr
    assert "/dev/pts/0" in r.stdout


def test_tty_exec(ctr, task):
    r = ctr.in_tty(["ctr", "--address", ctr.sock, "task", "exec", "-t", "--exec-id", "tt", task, "sh", "-c", "tty; exit 3"])
    assert r.returncode == 3, r.stdout + r.stderr
    assert "/dev/pts/" in r.stdout


@BOTH
def test_no_fd_leaked_from_shim(ctr, runtime):
    """The container's init and an exec see only stdio: nothing of the shim,
    containerd or pyrunc leaks in."""
    r = ctr.run(runtime, cid(), "sh", "-c", "ls /proc/$$/fd; echo pid=$$")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["0", "1", "2", "pid=1"]


def test_no_fd_leaked_into_exec(ctr, task):
    r = ctr.ctr("task", "exec", "--exec-id", "fd", task, "sh", "-c", "ls /proc/$$/fd; echo pid=$$")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[:-1] == ["0", "1", "2"]


def test_cri_config_with_binary_name_loads():
    """The config.toml recipe of docs/clients.md: the CRI plugin loads with a
    runc-v2 runtime whose BinaryName is pyrunc."""
    require("containerd", "ctr")
    sb = Sandbox("cri")
    try:
        cfg = sb.dir / "cri.toml"
        sock = sb.dir / "cri.sock"
        cfg.write_text(
            "version = 2\n"
            f'root = "{sb.dir}/root"\nstate = "{sb.dir}/state"\n'
            f'[grpc]\n  address = "{sock}"\n'
            '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]\n'
            '  runtime_type = "io.containerd.runc.v2"\n'
            '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.pyrunc]\n'
            '  runtime_type = "io.containerd.runc.v2"\n'
            '  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.pyrunc.options]\n'
            f'    BinaryName = "{sb.wrapper}"\n'
            "    SystemdCgroup = false\n"
        )
        sb.spawn(["containerd", "--config", str(cfg)], "cri.log")
        wait_for(lambda: sb.run(["ctr", "--address", str(sock), "version"]).returncode == 0, what="containerd")
        plugins = sb.run(["ctr", "--address", str(sock), "plugins", "ls"], check=True).stdout
        cri = [line.split() for line in plugins.splitlines() if " cri " in f" {line} "]
        assert cri and cri[0][-1] == "ok", plugins
        dump = sb.run(["containerd", "--config", str(cfg), "config", "dump"], check=True).stdout
        assert f'BinaryName = "{sb.wrapper}"' in dump
    finally:
        left = sb.close()
        assert left == [], f"left behind: {left}"


def test_second_delete_force_of_gone_container_exits_0(ctr):
    """The shim deletes twice (`delete`, then `delete --force`) and treats
    any failure of the second as an error."""
    i = cid()
    ctr.run("pyrunc", i, "true", check=True)
    calls = [line for line in ctr.sb.argv_lines() if line.endswith(" " + i)]
    root = calls[0].split()[1]
    r = ctr.sb.run([str(ctr.sb.wrapper), "--root", root, "delete", "--force", i])
    assert r.returncode == 0, r.stderr
    r = ctr.sb.run([str(ctr.sb.wrapper), "--root", root, "delete", i])
    assert r.returncode != 0 and i in r.stderr


def test_version_and_features_answer(ctr):
    r = ctr.sb.run([str(ctr.sb.wrapper), "--version"], check=True)
    assert r.stdout.startswith("pyrunc version ") and "spec: 1.3.0" in r.stdout
    import json

    doc = json.loads(ctr.sb.run([str(ctr.sb.wrapper), "features"], check=True).stdout)
    assert doc["ociVersionMax"] == "1.3.0"
