"""CVE-2025-52881: procfs writes redirected by the container's mounts.

linux.sysctl and process.oomScoreAdj are written by pyrunc-init through an
O_PATH fd of /proc opened (and checked to be procfs) before any container
mount exists, with openat2(RESOLVE_BENEATH|NO_XDEV|NO_MAGICLINKS).  A config
that covers /proc/sys with a tmpfs, binds a fake file over the sysctl, or an
image whose /proc is a link to a fake tree, must not catch the write: the
value lands in the real procfs (checked through a second, clean procfs
mount or from the host) and the fake files keep their content.  An exec
into a container that mounted a tmpfs over its own /proc fails cleanly or
writes the real oom_score_adj."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import new_id
from tests.hardening.helpers import assert_nothing_left, wait_for

SHMMAX = "123456789"


def fake_tree(base: Path) -> Path:
    """A directory shaped like /proc/sys with decoy files."""
    for rel in ("sys/kernel/shmmax", "sys/net/ipv4/ip_forward", "self/oom_score_adj", "1/oom_score_adj"):
        p = base / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("decoy\n")
    return base


def decoys_untouched(base: Path) -> None:
    for p in base.rglob("*"):
        if p.is_file():
            assert p.read_text() == "decoy\n", p


def sysctl_config(extra_mounts):
    def edit(c):
        c["linux"]["sysctl"] = {"kernel.shmmax": SHMMAX, "net.ipv4.ip_forward": "1"}
        c["process"]["oomScoreAdj"] = 321
        c["mounts"] += extra_mounts
        c["mounts"].append({"destination": "/realproc", "type": "proc", "source": "proc"})
        c["root"]["readonly"] = False
    return edit


READ_REAL = ("cat /realproc/sys/kernel/shmmax /realproc/sys/net/ipv4/ip_forward /realproc/self/oom_score_adj; "
             "echo ---; cat /proc/sys/kernel/shmmax 2>&1; ls /proc/sys 2>&1")


def check_real_values(out: str) -> None:
    real = out.split("---")[0].split()
    assert real == [SHMMAX, "1", "321"], out


def test_sysctl_with_tmpfs_over_proc_sys(pyrunc, make_bundle):
    b = make_bundle(["sh", "-c", READ_REAL], sysctl_config(
        [{"destination": "/proc/sys", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m"]}]))
    p = pyrunc("run", "-b", str(b.path), new_id("sys"))
    assert p.returncode == 0, p.stderr
    check_real_values(p.stdout)
    # the tmpfs caught nothing: /proc/sys in the container is still empty
    after = p.stdout.split("---")[1]
    assert "No such file" in after and "kernel" not in after.split("\n", 2)[-1], p.stdout


def test_sysctl_with_files_bound_over_the_targets(pyrunc, make_bundle, tmp_path):
    decoys = fake_tree(tmp_path / "decoys")
    mounts = [
        {"destination": "/proc/sys/kernel/shmmax", "type": "bind", "source": str(decoys / "sys/kernel/shmmax"),
         "options": ["bind"]},
        {"destination": "/proc/sys/net/ipv4/ip_forward", "type": "bind",
         "source": str(decoys / "sys/net/ipv4/ip_forward"), "options": ["bind"]},
        {"destination": "/proc/1/oom_score_adj", "type": "bind", "source": str(decoys / "1/oom_score_adj"),
         "options": ["bind"]},
    ]
    b = make_bundle(["sh", "-c", READ_REAL], sysctl_config(mounts))
    p = pyrunc("run", "-b", str(b.path), new_id("sys"))
    if p.returncode == 0:
        check_real_values(p.stdout)
        assert "decoy" in p.stdout.split("---")[1]  # the binds were really there
    else:
        assert len(p.stderr.strip().splitlines()) == 1 and "Traceback" not in p.stderr, p.stderr
    decoys_untouched(decoys)


def test_sysctl_when_the_image_proc_is_a_link_to_a_fake_tree(pyrunc, make_bundle, tmp_path):
    """No procfs mount at all; the image's /proc points at decoys (inside
    the rootfs and on the host): the write still reaches the kernel."""
    def edit(c):
        sysctl_config([])(c)
        c["mounts"] = [m for m in c["mounts"] if m["type"] != "proc"]
        c["linux"]["maskedPaths"] = []
        c["linux"]["readonlyPaths"] = []
    b = make_bundle(["sleep", "100"], edit)
    decoys = fake_tree(b.rootfs / "fakeproc")
    host_decoys = fake_tree(tmp_path / "host-decoys")
    (b.rootfs / "proc").rmdir()
    (b.rootfs / "proc").symlink_to("/fakeproc")
    cid = new_id("sys")
    pyrunc("create", "-b", str(b.path), cid, check=True)
    try:
        init = pyrunc.state(cid)["pid"]
        shmmax = subprocess.run(["nsenter", "-t", str(init), "--ipc", "cat", "/proc/sys/kernel/shmmax"],
                                capture_output=True, text=True, check=True).stdout.strip()
        fwd = subprocess.run(["nsenter", "-t", str(init), "--net", "cat", "/proc/sys/net/ipv4/ip_forward"],
                             capture_output=True, text=True, check=True).stdout.strip()
        assert (shmmax, fwd) == (SHMMAX, "1")
        assert Path(f"/proc/{init}/oom_score_adj").read_text().strip() == "321"
    finally:
        pyrunc("delete", "--force", cid)
    decoys_untouched(decoys)
    decoys_untouched(host_decoys)
    assert_nothing_left(pyrunc, cid, b.path)


def test_exec_oom_score_adj_when_the_container_covered_its_proc(pyrunc, make_bundle, tmp_path):
    """The container (with CAP_SYS_ADMIN) mounts a tmpfs over /proc holding
    decoys; an exec with oomScoreAdj must not write into them."""
    def edit(c):
        caps = c["process"]["capabilities"]
        for k in ("bounding", "effective", "permitted"):
            caps[k] = sorted(set(caps[k]) | {"CAP_SYS_ADMIN"})
        c["linux"]["readonlyPaths"] = []
        c["linux"]["maskedPaths"] = []
    script = ("mount -t tmpfs none /proc && mkdir -p /proc/self /proc/sys/kernel && "
              "echo decoy > /proc/self/oom_score_adj && echo decoy > /proc/sys/kernel/shmmax && exec sleep 1000")
    b = make_bundle(["sh", "-c", script], edit)
    cid = new_id("sys")
    pyrunc("run", "-d", "-b", str(b.path), cid, check=True)
    try:
        init = pyrunc.state(cid)["pid"]
        wait_for(lambda: any(l.split()[4] == "/proc" and " tmpfs " in l
                             for l in open(f"/proc/{init}/mountinfo")), what="the container's tmpfs on /proc")
        proc_json = tmp_path / "process.json"
        process = dict(b.config["process"], args=["sh", "-c", "cat /proc/self/oom_score_adj; sleep 100"],
                       oomScoreAdj=654)
        proc_json.write_text(json.dumps(process))
        pidfile = tmp_path / "pid"
        p = pyrunc("exec", "-d", "--pid-file", str(pidfile), "-p", str(proc_json), cid)
        if p.returncode == 0:
            pid = int(pidfile.read_text())
            assert Path(f"/proc/{pid}/oom_score_adj").read_text().strip() == "654"
        else:
            assert len(p.stderr.strip().splitlines()) == 1 and "Traceback" not in p.stderr, p.stderr
            assert "procfs" in p.stderr or "/proc" in p.stderr, p.stderr
        # the decoys are intact, seen through the init's root (its mounts)
        for rel in ("self/oom_score_adj", "sys/kernel/shmmax"):
            assert Path(f"/proc/{init}/root/proc/{rel}").read_text() == "decoy\n"
    finally:
        pyrunc("delete", "--force", cid)


def test_lsm_labels_refused_where_no_lsm_is_enabled(pyrunc, make_bundle):
    """apparmorProfile / selinuxLabel: on this host no LSM is enabled, so the
    attr write path cannot be exercised; the refusal must be one clean line."""
    if os.path.isdir("/sys/kernel/security/apparmor"):
        pytest.skip("AppArmor is enabled: covered by the LSM tests")
    b = make_bundle(["true"], lambda c: c["process"].__setitem__("apparmorProfile", "pyrunc-test"))
    cid = new_id("lsm")
    p = pyrunc("run", "-b", str(b.path), cid)
    assert p.returncode != 0
    assert len(p.stderr.strip().splitlines()) == 1 and "apparmorProfile" in p.stderr, p.stderr
    assert_nothing_left(pyrunc, cid, b.path)
