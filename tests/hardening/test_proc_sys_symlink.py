"""CVE-2019-19921: an image whose /proc (or /sys) is a symlink redirects the
procfs mount, so maskedPaths, readonlyPaths and the LSM label writes (which
look at /proc) act on the wrong directory and the real procfs is left
unmasked at the link's target.

runc refuses a proc or sysfs mount whose destination is not an ordinary
directory: `filesystem "proc" must be mounted on ordinary directory`.
pyrunc refuses the same, and is stricter on one point the tests state: a
symlink anywhere on the way to the destination (an intermediate component)
is refused too, since it moves the mount just as well.  runc 1.1.5 only
lstat()s the final component and follows intermediate links.

Each refusal is one line, leaves nothing behind, and the test would fail
if the guard were removed (the container would then run)."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import new_id
from tests.hardening.helpers import assert_nothing_left

MESSAGE = "must be mounted on ordinary directory"


def rw(c):
    c["root"]["readonly"] = False


def replace_with_link(rootfs: Path, rel: str, target: str) -> None:
    p = rootfs / rel
    if p.is_symlink() or p.is_file():
        p.unlink()
    elif p.is_dir():
        p.rmdir()
    p.parent.mkdir(parents=True, exist_ok=True)
    p.symlink_to(target)


def run_both(pyrunc, runc, b) -> tuple:
    """`run` the bundle under both runtimes: (pyrunc result, runc result)."""
    cid = new_id("sym")
    p = pyrunc("run", "-b", str(b.path), cid)
    assert_nothing_left(pyrunc, cid, b.path)
    r = runc("run", "-b", str(b.path), new_id("symr"))
    return p, r


def assert_refused(p) -> None:
    assert p.returncode != 0, p.stdout
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in p.stderr, p.stderr
    assert MESSAGE in lines[0], lines[0]


# name -> (path in the rootfs to replace by a link, link target, fstype)
FINAL_LINKS = {
    "proc-absolute": ("proc", "/fakeproc", "proc"),
    "proc-relative": ("proc", "fakeproc", "proc"),
    "proc-dotdot": ("proc", "../../../fakeproc", "proc"),
    "sys-absolute": ("sys", "/fakesys", "sysfs"),
    "sys-relative": ("sys", "./fakesys", "sysfs"),
}


@pytest.mark.parametrize("case", sorted(FINAL_LINKS))
def test_proc_or_sys_is_a_symlink(pyrunc, runc, make_bundle, case):
    """/proc or /sys itself is a link to a directory of the image: both
    runtimes refuse (without the guard the mount would land in /fakeproc and
    /proc/kcore & co. would be masked nowhere)."""
    rel, target, fstype = FINAL_LINKS[case]
    b = make_bundle(["cat", "/proc/self/mountinfo"], rw)
    (b.rootfs / "fakeproc").mkdir(exist_ok=True)
    (b.rootfs / "fakesys").mkdir(exist_ok=True)
    replace_with_link(b.rootfs, rel, target)
    p, r = run_both(pyrunc, runc, b)
    assert_refused(p)
    assert f'"{fstype}"' in p.stderr
    # runc refuses it too (same phrase)
    assert r.returncode != 0 and MESSAGE in r.stderr, r.stderr


@pytest.mark.parametrize("fstype,dest", [("proc", "/proc"), ("sysfs", "/sys")])
def test_destination_is_a_regular_file(pyrunc, runc, make_bundle, fstype, dest):
    b = make_bundle(["true"], rw)
    target = b.rootfs / dest.lstrip("/")
    target.rmdir()
    target.write_text("not a directory\n")
    p, r = run_both(pyrunc, runc, b)
    assert_refused(p)
    assert r.returncode != 0 and MESSAGE in r.stderr, r.stderr


@pytest.mark.parametrize("link", ["/real", "../real", "../../../../real"])
def test_intermediate_symlink_refused(pyrunc, runc, make_bundle, link):
    """proc mounted at /mnt/p/proc where /mnt/p is a link: pyrunc refuses
    (stricter than runc 1.1.5, which follows intermediate links: with an
    absolute link it even resolves the target on the host, outside the
    rootfs).  Shown: runc runs it, pyrunc does not."""
    def edit(c):
        rw(c)
        c["mounts"].append({"destination": "/mnt/p/proc", "type": "proc", "source": "proc"})
    b = make_bundle(["true"], edit)
    (b.rootfs / "real" / "proc").mkdir(parents=True)
    (b.rootfs / "mnt").mkdir(exist_ok=True)
    (b.rootfs / "mnt" / "p").symlink_to(link)
    p, _ = run_both(pyrunc, runc, b)
    assert_refused(p)
    assert "/mnt/p/proc" in p.stderr


def test_ordinary_destinations_still_work(pyrunc, runc, make_bundle):
    """The guard does not refuse what it should not: proc at a second,
    ordinary (even missing) directory runs under both runtimes, and the
    masks hold on the real /proc."""
    def edit(c):
        rw(c)
        c["mounts"].append({"destination": "/mnt/proc2", "type": "proc", "source": "proc"})
    b = make_bundle(["sh", "-c", "grep -c ' /mnt/proc2 ' /proc/self/mountinfo; wc -c < /proc/timer_list"], edit)
    p, r = run_both(pyrunc, runc, b)
    assert p.returncode == 0, p.stderr
    assert r.returncode == 0, r.stderr
    assert p.stdout.split() == r.stdout.split() == ["1", "0"]
