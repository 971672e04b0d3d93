"""Rootless containers: pyrunc run by an unprivileged user the test creates
(with /etc/subuid and /etc/subgid ranges and its own XDG_RUNTIME_DIR), in a
user namespace, with newuidmap/newgidmap for several ranges.

The interpreter may live where the user cannot reach it (pyenv under /root):
the user's commands then run in a private mount namespace where only that
interpreter's directory is made reachable; everything else (the bundle, the
state, the kernel's checks) is what any unprivileged user gets."""
from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from tests.conftest import cgroup_dirs_named, new_id

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="creates a user: needs root")

AS_USER = r'''
u=$1; x=$2; top=$3; inner=$4; shift 4
if [ -n "$top" ]; then
  stage=$(mktemp -d) && mount --bind "$inner" "$stage" && mount -t tmpfs -o mode=755 tmpfs "$top" &&
  mkdir -p "$inner" && mount --move "$stage" "$inner" && rmdir "$stage" || exit 99
fi
cd "$PWD_FOR_USER" || exit 98
exec setpriv --reuid "$u" --regid "$u" --init-groups env -i HOME=/tmp PATH=/usr/local/bin:/usr/bin:/usr/sbin:/bin \
  XDG_RUNTIME_DIR="$x" "$@"
'''


def _unreachable_top(path: str) -> str:
    """The first ancestor of `path` that others cannot search ("" if none)."""
    p = Path("/")
    for part in Path(path).parts[1:]:
        p = p / part
        if not os.stat(p).st_mode & 0o001:
            return str(p)
    return ""


class User:
    def __init__(self, name: str, home: Path) -> None:
        pw = pwd.getpwnam(name)
        self.name, self.uid, self.gid = name, pw.pw_uid, pw.pw_gid
        self.home = home  # a directory the user owns: bundles go here
        self.xdg = home / "xdg"
        self.xdg.mkdir(mode=0o700)
        os.chown(self.xdg, self.uid, self.gid)
        self.prefix = os.path.realpath(sys.base_prefix)
        self.top = _unreachable_top(self.prefix)

    def subids(self, path: str) -> tuple[int, int]:
        for line in Path(path).read_text().splitlines():
            who, start, count = line.split(":")
            if who == self.name:
                return int(start), int(count)
        raise AssertionError(f"no {path} range for {self.name}")

    def map_subids(self, config: dict, size: int) -> None:
        """Map container root to the user and ids 1..size to the start of its
        delegated /etc/subuid and /etc/subgid ranges (through newuidmap)."""
        for key, own, path in (("uidMappings", self.uid, "/etc/subuid"), ("gidMappings", self.gid, "/etc/subgid")):
            config["linux"][key] = [{"containerID": 0, "hostID": own, "size": 1},
                                    {"containerID": 1, "hostID": self.subids(path)[0], "size": size}]

    def run(self, *argv: str, cwd: Path | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
        env = dict(os.environ, PWD_FOR_USER=str(cwd or self.home))
        cmd = ["unshare", "-m", "sh", "-c", AS_USER, "sh", str(self.uid), str(self.xdg), self.top,
               self.prefix if self.top else "", *argv]
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            rc = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env,
                                timeout=timeout).returncode
            out.seek(0)
            err.seek(0)
            return subprocess.CompletedProcess(cmd, rc, out.read().decode(), err.read().decode())

    def pyrunc(self, *args: str, **kw) -> subprocess.CompletedProcess:
        return self.run(sys.executable, "-m", "pyrunc", *args, **kw)

    def state_root(self) -> Path:
        return self.xdg / "pyrunc"

    def bundle(self, rootfs_template: Path, args: list[str], edit=None) -> Path:
        b = Path(tempfile.mkdtemp(dir=self.home, prefix="bundle-"))
        shutil.copytree(rootfs_template, b / "rootfs", symlinks=True)
        for p in [b, *b.rglob("*")]:
            os.lchown(p, self.uid, self.gid)
        spec = self.pyrunc("spec", "--rootless", cwd=b)
        assert spec.returncode == 0, spec.stderr
        cfg = json.loads((b / "config.json").read_text())
        cfg["process"]["terminal"] = False
        cfg["process"]["args"] = args
        if edit:
            edit(cfg)
        (b / "config.json").write_text(json.dumps(cfg))
        return b

    def processes(self) -> list[int]:
        """Live (not zombie) processes of the user."""
        out = []
        for pid in os.listdir("/proc"):
            if pid.isdigit():
                try:
                    if os.stat(f"/proc/{pid}").st_uid != self.uid:
                        continue
                    with open(f"/proc/{pid}/stat") as f:
                        if f.read().rpartition(")")[2].split()[0] == "Z":
                            continue
                    out.append(int(pid))
                except OSError:
                    pass
        return out

    def settled_processes(self, deadline: float = 10.0) -> list[int]:
        """The user's processes once a killed init had the time to go (its
        orphaned parent reaps it); a safety net, not a timing assertion."""
        end = time.monotonic() + deadline
        while (left := self.processes()) and time.monotonic() < end:
            time.sleep(0.05)
        return left


@pytest.fixture
def user(tmp_path_factory):
    if not all(shutil.which(t) for t in ("useradd", "userdel", "setpriv", "unshare", "newuidmap", "newgidmap")):
        pytest.skip("needs useradd, setpriv, unshare and newuidmap/newgidmap (uidmap)")
    name = f"pyrt{uuid.uuid4().hex[:8]}"
    home = Path(tempfile.mkdtemp(prefix="pyrunc-rootless-"))
    subprocess.run(["useradd", "--no-create-home", "--shell", "/bin/sh", name], check=True)
    u = None
    try:
        os.chown(home, pwd.getpwnam(name).pw_uid, pwd.getpwnam(name).pw_gid)
        os.chmod(home, 0o755)
        if name not in Path("/etc/subuid").read_text():
            subprocess.run(["usermod", "--add-subuids", "300000-365535", "--add-subgids", "300000-365535", name],
                           check=True)
        u = User(name, home)
        yield u
    finally:
        if u is not None and u.state_root().is_dir():
            for cid in os.listdir(u.state_root()):
                u.pyrunc("delete", "--force", cid)
        if u is not None:
            for pid in u.processes():  # only this test's user: nothing else runs as it
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + 10
            while u.processes() and time.monotonic() < deadline:
                time.sleep(0.05)
        subprocess.run(["userdel", name], check=False)
        for f in ("/etc/subuid", "/etc/subgid"):  # userdel drops them; make sure
            lines = Path(f).read_text().splitlines(keepends=True)
            kept = [l for l in lines if not l.startswith(name + ":")]
            if kept != lines:
                Path(f).write_text("".join(kept))
        shutil.rmtree(home, ignore_errors=True)


def status(out: str) -> dict[str, str]:
    return {k: v.strip() for k, _, v in (l.partition(":") for l in out.splitlines()) if v}


def assert_nothing_left(user: User, cid: str) -> None:
    assert not (user.state_root() / cid).exists()
    assert cgroup_dirs_named(cid) == []
    assert user.settled_processes() == []


# ---------------------------------------------------------------- tests


def test_rootless_run_maps_the_user_to_root(user, rootfs_template):
    b = user.bundle(rootfs_template, ["sh", "-c", "id -u; cat /proc/self/uid_map /proc/self/gid_map; "
                                      "grep -E '^Cap(Eff|Bnd)' /proc/self/status; touch /tmp/x 2>&1; "
                                      "stat -c %u /proc/1/root/. ; cat /proc/self/setgroups"],
                    edit=lambda c: c["root"].__setitem__("readonly", False))
    cid = new_id()
    p = user.pyrunc("run", "-b", str(b), cid)  # no --rootless, no --root: auto-detected
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0] == "0"
    assert lines[1].split() == ["0", str(user.uid), "1"]
    assert lines[2].split() == ["0", str(user.gid), "1"]
    got = status(p.stdout)
    assert int(got["CapEff"], 16) != 0  # root in its namespace keeps the configured caps
    assert lines[-1] == "deny"  # own ids only: setgroups denied, as the kernel requires
    assert (b / "rootfs" / "tmp" / "x").stat().st_uid == user.uid
    assert_nothing_left(user, cid)


def test_rootless_state_lives_under_xdg_runtime_dir(user, rootfs_template):
    b = user.bundle(rootfs_template, ["sleep", "600"])
    cid = new_id()
    p = user.pyrunc("create", "-b", str(b), cid)
    assert p.returncode == 0, p.stderr
    try:
        assert (user.state_root() / cid / "state.json").is_file()
        assert user.state_root().stat().st_uid == user.uid
        st = json.loads(user.pyrunc("state", cid).stdout)
        assert st["status"] == "created" and st["id"] == cid
        assert user.pyrunc("start", cid).returncode == 0
        assert json.loads(user.pyrunc("state", cid).stdout)["status"] == "running"
        listing = user.pyrunc("list", "-q").stdout.split()
        assert listing == [cid]
        # the container's init runs as the user on the host
        assert os.stat(f"/proc/{st['pid']}").st_uid == user.uid
        assert user.pyrunc("kill", cid, "KILL").returncode == 0
    finally:
        p = user.pyrunc("delete", "--force", cid)
    assert p.returncode == 0, p.stderr
    assert_nothing_left(user, cid)


def test_rootless_several_ranges_through_newuidmap(user, rootfs_template):
    ustart, _ = user.subids("/etc/subuid")
    gstart, _ = user.subids("/etc/subgid")

    def edit(c):
        c["root"]["readonly"] = False
        user.map_subids(c, 65536)
        c["process"]["user"] = {"uid": 0, "gid": 0, "additionalGids": [5, 1000]}
        caps = c["process"]["capabilities"]
        for k in ("bounding", "effective", "permitted"):
            caps[k] = caps[k] + ["CAP_CHOWN"]
    b = user.bundle(rootfs_template, ["sh", "-c", "cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups; "
                                      "id -G; touch /tmp/f && chown 1000:1000 /tmp/f && echo chowned"], edit=edit)
    cid = new_id()
    p = user.pyrunc("run", "-b", str(b), cid)
    assert p.returncode == 0, p.stderr
    lines = [l.split() for l in p.stdout.splitlines()]
    assert lines[0] == ["0", str(user.uid), "1"] and lines[1] == ["1", str(ustart), "65536"]
    assert lines[2] == ["0", str(user.gid), "1"] and lines[3] == ["1", str(gstart), "65536"]
    assert lines[4] == ["allow"]  # the helpers checked the groups: setgroups stays usable
    assert lines[5] == ["0", "5", "1000"]
    assert lines[6] == ["chowned"]
    st = (b / "rootfs" / "tmp" / "f").stat()
    assert (st.st_uid, st.st_gid) == (ustart + 999, gstart + 999)
    assert_nothing_left(user, cid)


def test_rootless_non_root_process_user(user, rootfs_template):
    def edit(c):
        user.map_subids(c, 2000)
        c["process"]["user"] = {"uid": 1000, "gid": 1000}
        c["process"]["noNewPrivileges"] = True
    b = user.bundle(rootfs_template, ["sh", "-c", "id; grep -E '^(CapEff|NoNewPrivs)' /proc/self/status"], edit=edit)
    cid = new_id()
    p = user.pyrunc("run", "-b", str(b), cid)
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines()[0].startswith("uid=1000(user) gid=1000(user)")
    got = status(p.stdout)
    assert int(got["CapEff"], 16) == 0 and got["NoNewPrivs"] == "1"


def test_rootless_ranges_not_delegated_are_refused(user, rootfs_template):
    def edit(c):
        c["linux"]["uidMappings"] = [{"containerID": 0, "hostID": user.uid, "size": 1},
                                     {"containerID": 1, "hostID": 10, "size": 100}]  # someone else's ids
    b = user.bundle(rootfs_template, ["true"], edit=edit)
    cid = new_id()
    p = user.pyrunc("run", "-b", str(b), cid)
    assert p.returncode == 1
    assert p.stderr.strip().splitlines() == [
        f"pyrunc: linux.uidMappings[1]: host ids 10-109 are not delegated to {user.name} in /etc/subuid "
        f"(delegated: {'-'.join(str(x) for x in _range(user.subids('/etc/subuid')))})"]
    assert_nothing_left(user, cid)


def _range(r: tuple[int, int]) -> tuple[int, int]:
    return r[0], r[0] + r[1] - 1


def test_rootless_without_user_namespace_is_refused(user, rootfs_template):
    def edit(c):
        c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "user"]
        c["linux"].pop("uidMappings")
        c["linux"].pop("gidMappings")
    b = user.bundle(rootfs_template, ["true"], edit=edit)
    cid = new_id()
    p = user.pyrunc("run", "-b", str(b), cid)
    assert p.returncode == 1
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "linux.namespaces: rootless container requires user namespaces" in lines[0]
    assert_nothing_left(user, cid)


@pytest.mark.parametrize("resources,ctrl", [({"memory": {"limit": 100 << 20}}, "memory"),
                                            ({"pids": {"limit": 10}}, "pids")])
def test_rootless_cgroup_limits_without_delegation_are_clear_errors(user, rootfs_template, resources, ctrl):
    b = user.bundle(rootfs_template, ["true"], edit=lambda c: c["linux"].__setitem__("resources", resources))
    cid = new_id()
    p = user.pyrunc("run", "-b", str(b), cid)
    assert p.returncode == 1
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    assert f"cannot set {ctrl} limit" in lines[0] and "rootless" in lines[0] and "not delegated" in lines[0]
    assert_nothing_left(user, cid)


def test_rootless_spec_like_runc(user, rootfs_template):
    if shutil.which("runc") is None:
        pytest.skip("runc is not installed")
    ours, theirs = Path(tempfile.mkdtemp(dir=user.home)), Path(tempfile.mkdtemp(dir=user.home))
    for d in (ours, theirs):
        os.chown(d, user.uid, user.gid)
    assert user.pyrunc("spec", "--rootless", cwd=ours).returncode == 0
    assert user.run(shutil.which("runc"), "spec", "--rootless", cwd=theirs).returncode == 0
    a, b = (json.loads((d / "config.json").read_text()) for d in (ours, theirs))
    for key in ("namespaces", "uidMappings", "gidMappings"):
        assert a["linux"][key] == b["linux"][key], key
    assert "resources" not in a["linux"]
    assert a["mounts"] == b["mounts"]
    assert a["linux"]["uidMappings"] == [{"containerID": 0, "hostID": user.uid, "size": 1}]


def test_rootless_is_not_detected_for_root(pyrunc, make_bundle):
    """root in the initial user namespace: `--rootless auto` is off; state
    goes to --root and a user namespace is not required."""
    b = make_bundle(["true"])
    p = pyrunc("run", "-b", str(b.path), new_id())
    assert p.returncode == 0, p.stderr


def test_rootless_exec_and_kill(user, rootfs_template):
    b = user.bundle(rootfs_template, ["sleep", "600"], edit=lambda c: user.map_subids(c, 2000))
    cid = new_id()
    assert user.pyrunc("run", "-d", "-b", str(b), cid).returncode == 0
    try:
        p = user.pyrunc("exec", "--user", "1000:1000", cid, "sh", "-c", "id -u; cat /proc/self/uid_map")
        assert p.returncode == 0, p.stderr
        lines = p.stdout.splitlines()
        assert lines[0] == "1000" and lines[1].split() == ["0", str(user.uid), "1"]
        assert user.pyrunc("kill", cid, "KILL").returncode == 0
    finally:
        p = user.pyrunc("delete", "--force", cid)
    assert p.returncode == 0, p.stderr
    assert_nothing_left(user, cid)
