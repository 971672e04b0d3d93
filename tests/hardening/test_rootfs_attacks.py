"""A root filesystem built to attack (CVE-2021-30465, CVE-2025-31133,
CVE-2025-52565): symlinks planted in mount destinations (absolute,
relative, ../ chains, loops, dangling), /dev/null replaced by a symlink or
a regular file under the masked paths, /dev/console redirected with a
terminal, device nodes planted as symlinks to host files.

Each attack must end in one of two ways: the container is created with
every mount, mask and device inside its rootfs, or creation fails with one
clean line.  Either way the host's victim files and directories are
unchanged (content, mode, entries) and no host mount appeared."""
from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Callable

import pytest

from tests.conftest import mounts_mentioning, new_id
from tests.hardening.helpers import assert_nothing_left, mountinfo

CORE_PATTERN = "/proc/sys/kernel/core_pattern"


class Victim:
    """Host files and a directory an attack would like to reach."""

    def __init__(self, base: Path) -> None:
        self.dir = base / "host-victim"
        self.dir.mkdir()
        (self.dir / "keep").write_text("host\n")
        self.file = base / "host-victim-file"
        self.file.write_text("host file\n")
        os.chmod(self.file, 0o600)
        self.before = self.snapshot()

    def snapshot(self) -> dict:
        def describe(p: Path) -> tuple:
            st = os.lstat(p)
            return (st.st_mode, st.st_uid, st.st_gid, st.st_mtime_ns, p.read_bytes() if p.is_file() else None)

        return {
            "dir": describe(self.dir),
            "entries": sorted(os.listdir(self.dir)),
            "keep": describe(self.dir / "keep"),
            "file": describe(self.file),
            "core_pattern": Path(CORE_PATTERN).read_text(),
            "host_mounts": [l for l in mountinfo() if "host-victim" in l],
        }

    def assert_untouched(self) -> None:
        assert self.snapshot() == self.before


@pytest.fixture
def victim(tmp_path: Path):
    v = Victim(tmp_path)
    yield v
    v.assert_untouched()


def plant(rootfs: Path, rel: str, target: str) -> None:
    p = rootfs / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    if p.is_symlink() or p.is_file():
        p.unlink()
    elif p.is_dir():
        p.rmdir()
    p.symlink_to(target)


def inside(rootfs: Path, host_path: Path | str) -> Path:
    """Where a host-absolute path lands when resolved inside the rootfs."""
    return rootfs / str(host_path).lstrip("/")


def attempt(pyrunc, b, script: str | None = None, **kw):
    """`run` the bundle (with `script` as the process): returns (ok, stdout).
    A failure must be one clean line and leave nothing behind."""
    if script is not None:
        b.config["process"]["args"] = ["sh", "-c", script]
        b.write()
    cid = new_id("atk")
    p = pyrunc("run", "-b", str(b.path), cid, **kw)
    if p.returncode != 0 and "pyrunc:" in p.stderr:
        lines = p.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in p.stderr, p.stderr
        assert_nothing_left(pyrunc, cid, b.path)
        return False, p.stderr
    assert p.returncode == 0, p.stderr
    assert_nothing_left(pyrunc, cid, b.path)
    return True, p.stdout


def container_mount_points(out: str) -> list[str]:
    return [l.split()[4] for l in out.splitlines() if len(l.split()) > 5 and l.split()[0].isdigit()]


def rw(c):
    c["root"]["readonly"] = False


# ------------------------------------------------------------------ mount destinations

def dest_cases(victim_dir: Path) -> dict[str, tuple[dict[str, str], str, str]]:
    """name -> (links to plant {rootfs path: target}, destination, expected
    mount point inside the container or "" when creation may fail)."""
    up = "../" * 12
    rel_victim = str(victim_dir).lstrip("/")
    return {
        "absolute": ({"evil": str(victim_dir)}, "/evil/sub", f"{victim_dir}/sub"),
        "relative-dotdot-chain": ({"a/b/evil": up + rel_victim}, "/a/b/evil/sub", f"{victim_dir}/sub"),
        "chained-links": ({"evil": "hop1", "hop1": "./hop2/../hop2", "hop2": str(victim_dir)},
                          # "hop2/.." is the parent of hop2's target (POSIX), inside the rootfs
                          "/evil/sub", f"{victim_dir.parent}/hop2/sub"),
        "final-component": ({"evil": str(victim_dir)}, "/evil", str(victim_dir)),
        "to-root": ({"evil": "/"}, "/evil/victim-root-mnt", "/victim-root-mnt"),
        "dotdot-in-link-target": ({"d/evil": "../../../../.." + str(victim_dir)}, "/d/evil/sub", f"{victim_dir}/sub"),
        "dangling": ({"evil": "/nonexistent-pyrunc-victim/x"}, "/evil/sub", "/nonexistent-pyrunc-victim/x/sub"),
        "loop": ({"evil": "loop2", "loop2": "evil"}, "/evil/sub", ""),
        "self-loop": ({"evil": "evil"}, "/evil/sub", ""),
    }


@pytest.mark.parametrize("case", sorted(dest_cases(Path("/x"))))
@pytest.mark.parametrize("kind", ["tmpfs", "bind"])
def test_mount_destination_symlinks_stay_in_rootfs(pyrunc, make_bundle, victim, tmp_path, case, kind):
    links, dest, expected = dest_cases(victim.dir)[case]
    src = tmp_path / "bind-src"
    src.mkdir(exist_ok=True)
    (src / "from-bind").write_text("")

    def edit(c):
        rw(c)
        if kind == "tmpfs":
            c["mounts"].append({"destination": dest, "type": "tmpfs", "source": "tmpfs", "options": ["size=1m"]})
        else:
            c["mounts"].append({"destination": dest, "type": "bind", "source": str(src), "options": ["bind"]})
    b = make_bundle(["true"], edit)
    for rel, target in links.items():
        plant(b.rootfs, rel, target)
    ok, out = attempt(pyrunc, b, "cat /proc/self/mountinfo")
    assert not os.path.exists("/nonexistent-pyrunc-victim")
    if not expected:
        assert not ok and "symbolic links" in out, out
        return
    assert ok, out
    assert expected in container_mount_points(out), out
    assert inside(b.rootfs, expected).is_dir()  # created in the rootfs, not on the host


def test_bind_file_onto_symlink_to_host_file(pyrunc, make_bundle, victim, tmp_path):
    src = tmp_path / "payload"
    src.write_text("payload\n")

    def edit(c):
        rw(c)
        c["mounts"].append({"destination": "/etc/target", "type": "bind", "source": str(src), "options": ["bind"]})
    b = make_bundle(["true"], edit)
    plant(b.rootfs, "etc/target", str(victim.file))
    ok, out = attempt(pyrunc, b, f"cat {victim.file}; grep -c ' {victim.file} ' /proc/self/mountinfo")
    assert ok, out
    assert out.split() == ["payload", "1"]
    assert inside(b.rootfs, victim.file).is_file()


def test_mount_over_planted_proc_and_dev_symlinks(pyrunc, make_bundle, victim):
    """/proc and /dev themselves are links to a host directory."""
    b = make_bundle(["true"], rw)
    plant(b.rootfs, "proc", str(victim.dir / "proc"))
    plant(b.rootfs, "dev", str(victim.dir / "dev"))
    ok, out = attempt(pyrunc, b, "cat /proc/self/mountinfo; ls /dev/null")
    # procfs is never mounted through a link (test_proc_sys_symlink.py)
    assert not ok and 'filesystem "proc" must be mounted on ordinary directory' in out, out


def test_mount_over_planted_dev_symlink(pyrunc, make_bundle, victim):
    """/dev is a link to a host directory: the tmpfs lands inside the rootfs."""
    b = make_bundle(["true"], rw)
    plant(b.rootfs, "dev", str(victim.dir / "dev"))
    ok, out = attempt(pyrunc, b, "cat /proc/self/mountinfo; ls /dev/null")
    assert ok, out
    assert f"{victim.dir}/dev" in container_mount_points(out), out
    assert inside(b.rootfs, victim.dir / "dev").is_dir()


# ------------------------------------------------------------------ masked paths and /dev/null

def no_dev_tmpfs(c):
    c["mounts"] = [m for m in c["mounts"] if m["destination"] != "/dev"]
    rw(c)


def dev_from_bundle(dev_dir: Path):
    def edit(c):
        rw(c)
        for m in c["mounts"]:
            if m["destination"] == "/dev":
                m.update({"type": "bind", "source": str(dev_dir), "options": ["rbind"]})
    return edit


MASK_CHECK = ("for p in /proc/kcore /proc/keys /proc/timer_list; do test -e $p && stat -c \"$p %F %t:%T\" $p; done; "
              "cat /proc/kcore /proc/keys 2>/dev/null | head -c 64; echo END")


def assert_masks_are_null(out: str) -> None:
    lines = [l for l in out.splitlines() if l.startswith("/proc/")]
    assert lines, out
    for line in lines:
        assert line.endswith("character special file 1:3"), out
    assert out.strip().splitlines()[-1] == "END", out  # the masks read empty


@pytest.mark.parametrize("planted", ["symlink-to-host-file", "symlink-to-core_pattern", "regular-file",
                                     "directory", "fifo"])
@pytest.mark.parametrize("layout", ["rootfs-dev", "bound-dev"])
def test_dev_null_substituted(pyrunc, make_bundle, victim, tmp_path, planted, layout):
    if layout == "rootfs-dev":
        b = make_bundle(["true"], no_dev_tmpfs)
        dev = b.rootfs / "dev"
    else:
        dev = tmp_path / "devdir"
        dev.mkdir()
        b = make_bundle(["true"], dev_from_bundle(dev))
    dev.mkdir(exist_ok=True)
    null = dev / "null"
    if planted == "symlink-to-host-file":
        null.symlink_to(victim.file)
    elif planted == "symlink-to-core_pattern":
        null.symlink_to(CORE_PATTERN)
    elif planted == "regular-file":
        null.write_text("not null\n")
    elif planted == "directory":
        null.mkdir()
    else:
        os.mkfifo(null)
    before = os.lstat(null)
    ok, out = attempt(pyrunc, b, MASK_CHECK)
    if ok:
        assert_masks_are_null(out)
    after = os.lstat(null)
    if layout == "bound-dev" or not ok:
        assert (after.st_mode, after.st_ino) == (before.st_mode, before.st_ino)


@pytest.mark.parametrize("target", ["host-file", "core_pattern", "dotdot"])
def test_masked_path_that_is_a_symlink(pyrunc, make_bundle, victim, target):
    """The masked path in the image is a link elsewhere: the mask covers the
    link (or fails), never what the link points to."""
    to = {"host-file": str(victim.file), "core_pattern": CORE_PATTERN, "dotdot": "../../../../" + str(victim.file)}

    def edit(c):
        rw(c)
        c["linux"]["maskedPaths"] = ["/etc/masked", "/etc/maskdir/f"]
        c["linux"]["readonlyPaths"] = ["/etc/ro"]
    b = make_bundle(["true"], edit)
    plant(b.rootfs, "etc/masked", to[target])
    plant(b.rootfs, "etc/maskdir", str(victim.dir))
    plant(b.rootfs, "etc/ro", str(victim.dir))
    ok, out = attempt(pyrunc, b, f"grep -E 'core_pattern|host-victim' /proc/self/mountinfo; echo END; cat {CORE_PATTERN}")
    if ok:
        # nothing was mounted over core_pattern (it keeps its host content)
        assert "core_pattern" not in out.split("END")[0], out
        assert out.split("END")[1].strip() == Path(CORE_PATTERN).read_text().strip()


# ------------------------------------------------------------------ device nodes

@pytest.mark.parametrize("device", ["/dev/null", "/dev/fuse"])
def test_device_node_planted_as_symlink_to_host_file(pyrunc, make_bundle, victim, device):
    """Without a /dev tmpfs the nodes are made in the image's /dev: a planted
    link must not make pyrunc chmod/chown the host file it points to."""
    def edit(c):
        no_dev_tmpfs(c)
        c["linux"]["devices"] = [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229,
                                  "fileMode": 0o666, "uid": 0, "gid": 0}]
    b = make_bundle(["true"], edit)
    plant(b.rootfs, device.lstrip("/"), str(victim.file))
    attempt(pyrunc, b, f"stat -c '%F %t:%T' {device}; true")
    assert stat.S_IMODE(os.stat(victim.file).st_mode) == 0o600


# ------------------------------------------------------------------ /dev/console

@pytest.mark.parametrize("planted", ["symlink-core_pattern", "symlink-host-file", "directory", "dev-symlink-proc"])
def test_dev_console_redirected(pyrunc, make_bundle, victim, console_receiver, planted):
    """With a terminal the pty is bound to /dev/console: a planted link must
    not move that bind onto a procfs file or a host file."""
    def edit(c):
        no_dev_tmpfs(c)
        c["process"]["terminal"] = True
    b = make_bundle(["sleep", "100"], edit)
    dev = b.rootfs / "dev"
    dev.mkdir(exist_ok=True)
    if planted == "symlink-core_pattern":
        (dev / "console").symlink_to(CORE_PATTERN)
    elif planted == "symlink-host-file":
        (dev / "console").symlink_to(victim.file)
    elif planted == "directory":
        (dev / "console").mkdir()
    else:
        plant(b.rootfs, "dev", "/proc/sys/kernel")
    recv = console_receiver()
    cid = new_id("con")
    p = pyrunc("create", "--console-socket", recv.path, "-b", str(b.path), cid)
    try:
        if p.returncode == 0:
            init = pyrunc.state(cid)["pid"]
            points = {l.split()[4]: l for l in mountinfo(init)}
            assert "/proc/sys/kernel/core_pattern" not in points, points
            assert not any("host-victim" in m for m in points), points
            if "/dev/console" in points:
                # bound from the container's devpts
                assert "devpts" in points["/dev/console"] or "/pts/" in points["/dev/console"].split()[3], points
        else:
            assert len(p.stderr.strip().splitlines()) == 1 and "Traceback" not in p.stderr, p.stderr
    finally:
        pyrunc("delete", "--force", cid)
    assert_nothing_left(pyrunc, cid, b.path)
    assert mounts_mentioning(str(b.path)) == []


@pytest.mark.parametrize("planted", ["symlink-to-host-file", "symlink-dotdot", "symlink-to-core_pattern"])
def test_device_bind_in_a_user_namespace(pyrunc, make_bundle, victim, planted):
    """In a user namespace devices are bind mounts of the host's nodes: the
    bind target is resolved inside the rootfs even when the image's /dev
    entry is a link out of it."""
    def edit(c):
        no_dev_tmpfs(c)
        c["linux"]["namespaces"].append({"type": "user"})
        c["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        c["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    b = make_bundle(["true"], edit)
    target = {"symlink-to-host-file": str(victim.file), "symlink-dotdot": "../../../../../.." + str(victim.file),
              "symlink-to-core_pattern": CORE_PATTERN}[planted]
    plant(b.rootfs, "dev/null", target)
    for dirpath, dirnames, filenames in os.walk(b.rootfs):
        for n in dirnames + filenames:
            os.lchown(os.path.join(dirpath, n), 100000, 100000)
    os.lchown(b.rootfs, 100000, 100000)
    p = b.path
    while str(p) not in ("/tmp", "/"):
        os.chmod(p, os.stat(p).st_mode | 0o055)
        p = p.parent
    ok, out = attempt(pyrunc, b, f"stat -c '%F %t:%T' /dev/null; grep -c 'host-victim-file\\|core_pattern' "
                                 "/proc/self/mountinfo; true")
    if ok:
        assert out.splitlines()[0] == "character special file 1:3", out
    else:  # /dev/null is still a link: the mask refuses it
        assert "not the null device" in out, out
    if planted != "symlink-to-core_pattern":  # (that one resolves into the container's procfs)
        # the bind target was the link's target resolved in the rootfs
        assert inside(b.rootfs, victim.file).exists()
    assert stat.S_IMODE(os.stat(victim.file).st_mode) == 0o600


def test_dev_console_source_redirected_through_planted_pts(pyrunc, make_bundle, victim, console_receiver):
    """CVE-2025-52565: the pty's name, /dev/pts/N, looked up in the image,
    is a link to core_pattern (the image's /dev/pts is a plain directory and
    its /dev/ptmx leads to a devpts mounted elsewhere).  The console bind
    must come from the pty itself, never from what its name points to."""
    def edit(c):
        c["mounts"] = [m for m in c["mounts"] if m["destination"] not in ("/dev", "/dev/pts")]
        c["mounts"].append({"destination": "/realpts", "type": "devpts", "source": "devpts",
                            "options": ["newinstance", "ptmxmode=0666", "mode=0620"]})
        c["process"]["terminal"] = True
        rw(c)
    b = make_bundle(["sleep", "100"], edit)
    pts = b.rootfs / "dev" / "pts"
    pts.mkdir(parents=True, exist_ok=True)
    for n in range(64):
        (pts / str(n)).symlink_to(CORE_PATTERN)
    plant(b.rootfs, "dev/ptmx", "/realpts/ptmx")
    recv = console_receiver()
    cid = new_id("con")
    p = pyrunc("create", "--console-socket", recv.path, "-b", str(b.path), cid)
    try:
        if p.returncode == 0:
            init = pyrunc.state(cid)["pid"]
            for line in mountinfo(init):
                f = line.split()
                fstype = f[f.index("-") + 1]
                if f[4] == "/dev/console":
                    assert fstype == "devpts", line
                assert not (fstype == "proc" and "core_pattern" in f[3]), line
        else:
            assert len(p.stderr.strip().splitlines()) == 1 and "Traceback" not in p.stderr, p.stderr
    finally:
        pyrunc("delete", "--force", cid)
    assert_nothing_left(pyrunc, cid, b.path)
