"""Mount behaviour side by side with runc 1.1.5 (issue 13 items 1, 2, 9, 11;
issue 19 item 7): the same bundle under both runtimes, what the container
and the host see compared.  Where pyrunc deliberately differs, the test says
why.

Peer group numbers in mountinfo are global counters, so propagation is
compared by kind ("shared", "master", "private", "unbindable") and by what
actually propagates."""
from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import mounts_mentioning, new_id

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounts and propagation need root")


# --------------------------------------------------------------- helpers


def _umount_all(path: Path) -> None:
    subprocess.run(["umount", "-R", "-l", str(path)], stderr=subprocess.DEVNULL, check=False)


@pytest.fixture
def shared_volume(tmp_path: Path):
    """A tmpfs on the host, in a peer group of its own: the bind volume."""
    vol = tmp_path / "vol"
    vol.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "vol", str(vol)], check=True)
    subprocess.run(["mount", "--make-shared", str(vol)], check=True)
    yield vol
    _umount_all(vol)
    assert not mounts_mentioning(str(vol)), "mounts left under the volume"


def _kinds(optional: str) -> str:
    """'shared:4 master:3' -> 'shared master'; '' -> 'private'."""
    return " ".join(re.sub(r":\d+", "", optional).split()) or "private"


def _mountinfo_kinds(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        f = line.split()
        if len(f) > 7 and "-" in f:
            out[f[4]] = _kinds(" ".join(f[6:f.index("-")]))
    return out


def _caps(c: dict, caps: list[str]) -> None:
    for k in ("bounding", "effective", "permitted"):
        c["process"]["capabilities"][k] = caps


def _run_propagation(rt, make_bundle, vol: Path, prop: str | None, volopt: str, userns: bool = False) -> dict:
    """The container mounts a tmpfs in the volume and waits; the host then
    mounts one in the volume and lets it go on; it prints its mountinfo."""
    for name in ("ready", "go"):
        (vol / name).unlink(missing_ok=True)
    for d in ("in", "hostm"):
        (vol / d).mkdir(exist_ok=True)

    def edit(c):
        if prop:
            c["linux"]["rootfsPropagation"] = prop
        c["mounts"].append({"destination": "/vol", "type": "bind", "source": str(vol), "options": ["rbind", volopt]})
        _caps(c, ["CAP_SYS_ADMIN"])
        c["linux"]["maskedPaths"] = c["linux"]["readonlyPaths"] = []
        if userns:
            _userns(c)

    b = make_bundle(["sh", "-c", "mount -t tmpfs inner /vol/in && touch /vol/ready; "
                     "while [ ! -e /vol/go ]; do sleep 0.02; done; grep -E ' / | /vol' /proc/self/mountinfo"],
                    edit=edit)
    if userns:
        os.chown(b.rootfs, 100000, 100000)
        _reachable_by(b.rootfs.parent)
    out = b.path / "out"
    with open(out, "w") as f:
        p = subprocess.Popen([*rt.argv, "--root", str(rt.root), "run", "-b", str(b.path), new_id()],
                             stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            give_up = time.monotonic() + 60  # a hung container then fails on its output, not here
            while not (vol / "ready").exists() and p.poll() is None and time.monotonic() < give_up:
                time.sleep(0.02)
            started = p.poll() is None
            if started:
                subprocess.run(["mount", "-t", "tmpfs", "hostm", str(vol / "hostm")], check=True)
            (vol / "go").touch()
            p.wait(timeout=60)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
    host = "".join(mounts_mentioning(str(vol)))
    text = out.read_text()
    seen = _mountinfo_kinds(text)
    result = {k: seen.get(k) for k in ("/", "/vol", "/vol/in", "/vol/hostm")}
    result["rc"] = p.returncode
    result["in->host"] = f"{vol}/in " in host
    result["host->in"] = "/vol/hostm" in seen
    # back to a bare volume for the next run
    subprocess.run(["umount", "-l", str(vol / "hostm")], stderr=subprocess.DEVNULL, check=False)
    subprocess.run(["umount", "-l", str(vol / "in")], stderr=subprocess.DEVNULL, check=False)
    return result


# --------------------------------------------------- item 1: rootfsPropagation


PROPAGATIONS = [None, "private", "rprivate", "shared", "rshared", "slave", "rslave", "unbindable", "runbindable"]


@pytest.mark.parametrize("volopt", ["rshared", "rslave"])
@pytest.mark.parametrize("prop", PROPAGATIONS, ids=[p or "unset" for p in PROPAGATIONS])
def test_rootfs_propagation_like_runc(pyrunc, runc, make_bundle, shared_volume, prop, volopt):
    theirs = _run_propagation(runc, make_bundle, shared_volume, prop, volopt)
    ours = _run_propagation(pyrunc, make_bundle, shared_volume, prop, volopt)
    assert ours["rc"] == 0, ours
    if prop in ("unbindable", "runbindable"):
        # runc makes the namespace's "/" unbindable and then fails binding
        # the rootfs onto itself (EINVAL); pyrunc binds first and makes the
        # new root unbindable afterwards (runbindable: everything under it,
        # so a volume asked to be shared is unbindable too)
        assert theirs["rc"] != 0
        assert ours["/"] == "unbindable"
        if prop == "runbindable":
            assert ours["/vol"] == "unbindable" and not ours["in->host"] and not ours["host->in"]
        else:
            want = "shared" if volopt == "rshared" else "master"
            assert ours["/vol"] == want and ours["host->in"]
        return
    assert theirs["rc"] == 0, theirs
    if prop in ("shared", "rshared"):
        # runtime-spec: "/" is in a peer group; runc leaves it private when
        # the host's "/" is private (tests/test_conformance_suite.py)
        assert theirs["/"] == "private" and ours["/"] == "shared"
        theirs["/"] = ours["/"]
    assert ours == theirs


def test_rootfs_that_is_a_shared_mount_point(pyrunc, runc, make_bundle):
    """containerd's rootfs is an overlay mount of its own, shared on systemd
    hosts; with rshared (what its CRI plugin sends for a Bidirectional
    volume) pivot_root refuses a shared parent: the mount made private must
    be the rootfs itself (runc's getParentMount), not the one above it."""
    for rt in (runc, pyrunc):
        b = make_bundle(["true"], edit=lambda c: c["linux"].__setitem__("rootfsPropagation", "rshared"))
        subprocess.run(["mount", "--bind", str(b.rootfs), str(b.rootfs)], check=True)
        try:
            subprocess.run(["mount", "--make-shared", str(b.rootfs)], check=True)
            p = rt("run", "-b", str(b.path), new_id())
            assert p.returncode == 0, (rt.argv, p.stderr)
            assert "shared:" in "".join(mounts_mentioning(f" {b.rootfs} "))  # the host's own is left as it was
        finally:
            _umount_all(b.rootfs)


def test_bidirectional_volume_reaches_the_host(pyrunc, runc, make_bundle, shared_volume):
    """The issue's case: rootfsPropagation shared and a shared volume: a mount
    made inside appears on the host (it stayed a slave before the fix)."""
    for rt in (runc, pyrunc):
        r = _run_propagation(rt, make_bundle, shared_volume, "shared", "rshared")
        assert r["/vol"] == "shared" and r["in->host"] and r["host->in"], (rt.argv, r)


def test_slave_volume_sees_host_mounts_made_after_start(pyrunc, runc, make_bundle, shared_volume):
    for rt in (runc, pyrunc):
        r = _run_propagation(rt, make_bundle, shared_volume, "rslave", "rslave")
        assert r["/vol"] == "master" and r["host->in"] and not r["in->host"], (rt.argv, r)


@pytest.mark.parametrize("volopt", ["rshared", "rslave"])
def test_volume_propagation_with_a_user_namespace_like_runc(pyrunc, runc, make_bundle, shared_volume, volopt):
    """With a user namespace the kernel turns the host's shared mounts into
    slaves in the container's copy (CL_SHARED_TO_SLAVE); pyrunc opens bind
    sources on the host side (item 11) and makes them slaves the same way:
    nothing mounted inside reaches the host, host mounts still come in."""
    _reachable_by(shared_volume)
    theirs = _run_propagation(runc, make_bundle, shared_volume, "rshared", volopt, userns=True)
    ours = _run_propagation(pyrunc, make_bundle, shared_volume, "rshared", volopt, userns=True)
    assert theirs["rc"] == 0 and ours["rc"] == 0, (theirs, ours)
    assert ours["/vol"] in ("shared master", "master") and ours["host->in"] and not ours["in->host"]
    theirs["/"] = ours["/"]  # shared: see test_rootfs_propagation_like_runc
    assert ours == theirs


def test_unknown_rootfs_propagation_is_one_line(pyrunc, make_bundle):
    b = make_bundle(["true"], edit=lambda c: c["linux"].__setitem__("rootfsPropagation", "rbogus"))
    p = pyrunc("run", "-b", str(b.path), new_id())
    assert p.returncode == 1
    assert p.stderr.count("\n") == 1 and "linux.rootfsPropagation" in p.stderr and "rbogus" in p.stderr
    assert not pyrunc.ids()


# ------------------------------------------- item 2: tmpcopyup, tmpfs modes


def _image_dir(rootfs: Path) -> None:
    d = rootfs / "data"
    (d / "sub").mkdir(parents=True)
    (d / "f").write_text("hello\n")
    os.chmod(d / "f", 0o640)
    os.chown(d / "f", 1000, 1000)
    os.setxattr(d / "f", "user.k", b"v1")
    os.symlink("/etc/passwd", d / "link")
    os.symlink("../../../../../../etc/shadow", d / "sub" / "esc")  # copied as a link, never followed
    os.chmod(d / "sub", 0o711)
    os.chown(d / "sub", 1000, 5)
    os.chmod(d, 0o755)
    (rootfs / "priv").mkdir(mode=0o700)
    (rootfs / "priv2").mkdir(mode=0o700)


def _both(pyrunc, runc, make_bundle, args, edit, prepare=None) -> tuple[str, str]:
    outs = []
    for rt in (runc, pyrunc):
        b = make_bundle(args, edit=edit)
        if prepare:
            prepare(b.rootfs)
        p = rt("run", "-b", str(b.path), new_id())
        assert p.returncode == 0, (rt.argv, p.stderr)
        outs.append(p.stdout)
    return outs[0], outs[1]


def _tmpfs(dest: str, *options: str) -> dict:
    return {"destination": dest, "type": "tmpfs", "source": "tmpfs", "options": list(options)}


def test_tmpcopyup_like_runc(pyrunc, runc, make_bundle, tmp_path):
    def edit(c):
        c["mounts"].append(_tmpfs("/data", "tmpcopyup", "nosuid"))
        _caps(c, ["CAP_DAC_OVERRIDE"])

    theirs, ours = _both(pyrunc, runc, make_bundle,
                         ["sh", "-c", "ls -lanR /data | sed 's/ [A-Z][a-z][a-z] .[0-9] [0-9:]* / /'; cat /data/f; "
                                      "touch /data/new && echo writable; grep ' /data ' /proc/self/mountinfo | "
                                      "cut -d' ' -f5,6,9"],
                         edit, _image_dir)
    assert "hello" in ours and "writable" in ours and "esc -> ../../../../../../etc/shadow" in ours
    assert ours == theirs


def test_tmpcopyup_leaves_the_image_alone(pyrunc, make_bundle):
    """What the container writes goes to the tmpfs, not to the image
    directory under it."""
    b = make_bundle(["sh", "-c", "echo changed > /data/f && rm /data/link && cat /data/f"],
                    edit=lambda c: (c["mounts"].append(_tmpfs("/data", "tmpcopyup")),
                                    _caps(c, ["CAP_DAC_OVERRIDE"])))
    _image_dir(b.rootfs)
    p = pyrunc("run", "-b", str(b.path), new_id())
    assert p.returncode == 0 and p.stdout == "changed\n", p.stderr
    assert (b.rootfs / "data" / "f").read_text() == "hello\n"
    assert (b.rootfs / "data" / "link").is_symlink()


def test_tmpfs_takes_the_mode_of_the_directory_it_covers(pyrunc, runc, make_bundle):
    """runc: a tmpfs over an existing directory gets its mode; a new
    directory keeps tmpfs's 1777; mode= is kept (runc 1.1.5 chmods after
    mounting, which would override mode=; runc 1.2 and pyrunc let mode= win:
    /priv2 is 0700 in the image, asked 0755)."""
    def edit(c):
        c["mounts"] += [_tmpfs("/tmp"), _tmpfs("/priv", "size=1m"), _tmpfs("/new"), _tmpfs("/priv2", "mode=755")]

    theirs, ours = _both(pyrunc, runc, make_bundle, ["stat", "-c", "%n %a %u %g", "/tmp", "/priv", "/new", "/priv2"],
                         edit, _image_dir)
    assert ours.split("\n")[:3] == ["/tmp 1777 0 0", "/priv 700 0 0", "/new 1777 0 0"]
    assert ours.splitlines()[:3] == theirs.splitlines()[:3]
    assert ours.splitlines()[3] == "/priv2 755 0 0"
    assert theirs.splitlines()[3] == "/priv2 700 0 0"  # runc 1.1.5 ignores mode= over an existing directory


def test_tmpcopyup_on_a_bind_is_one_line_and_leaves_nothing(pyrunc, make_bundle, tmp_path):
    """runc ignores tmpcopyup outside tmpfs; it cannot do anything there, so
    pyrunc says so instead of dropping an option the user asked for."""
    src = tmp_path / "src"
    src.mkdir()
    b = make_bundle(["true"], edit=lambda c: c["mounts"].append(
        {"destination": "/b", "type": "bind", "source": str(src), "options": ["rbind", "tmpcopyup"]}))
    p = pyrunc("run", "-b", str(b.path), new_id())
    assert p.returncode == 1
    assert p.stderr == f"pyrunc: mounts[{len(b.config['mounts']) - 1}].options: tmpcopyup applies to tmpfs " \
                       "mounts only, not to a bind mount\n"
    assert not pyrunc.ids() and not mounts_mentioning(str(b.path))


# ----------------------------------------------- issue 19 item 7: read-only /dev


def test_read_only_dev_and_tmpfs_like_runc(pyrunc, runc, make_bundle):
    """/dev and tmpfs mounts with ro get their devices, symlinks and the mount
    points of later mounts first, then become read-only (runc's finalizeRootfs)."""
    def edit(c):
        for m in c["mounts"]:
            if m["destination"] == "/dev":
                m["options"].append("ro")
        c["mounts"] += [_tmpfs("/run", "ro", "tmpcopyup", "mode=755"), _tmpfs("/run/sub/x", "ro")]

    script = ("grep -E ' /dev| /run' /proc/self/mountinfo | cut -d' ' -f5,6; ls -ln /dev | cut -c1-10,35-; "
              "touch /dev/x /run/y 2>&1; echo ok > /dev/null && echo null-ok; true")
    theirs, ours = _both(pyrunc, runc, make_bundle, ["sh", "-c", script], edit)
    assert "/dev ro,nosuid" in ours and "/run ro,relatime" in ours and "null-ok" in ours
    assert ours == theirs


# ------------------------------------ item 11: user namespaces and bind sources


def _userns(c: dict) -> None:
    c["linux"]["namespaces"].append({"type": "user"})
    c["linux"]["uidMappings"] = c["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    c["mounts"] = [m for m in c["mounts"] if not m["destination"].startswith("/sys")]


def _reachable_by(path: Path, stop: str = "/tmp") -> None:
    while str(path) != stop:
        os.chmod(path, os.stat(path).st_mode | 0o055)
        path = path.parent


def test_bind_source_behind_a_mode_000_directory_with_a_user_namespace(pyrunc, runc, make_bundle, tmp_path):
    """The container's root (host uid 100000) cannot traverse `locked`: the
    source is opened on the host side before the switch (runc: mount source
    fds; pyrunc: the launcher, before clone)."""
    locked = tmp_path / "locked"
    (locked / "src").mkdir(parents=True)
    (locked / "src" / "hello").write_text("hi\n")

    def edit(c):
        _userns(c)
        c["mounts"].append({"destination": "/v", "type": "bind", "source": str(locked / "src"),
                            "options": ["rbind", "ro"]})

    def prepare(rootfs: Path) -> None:
        os.chown(rootfs, 100000, 100000)
        _reachable_by(rootfs.parent)

    _reachable_by(tmp_path)
    os.chmod(locked, 0)
    try:
        theirs, ours = _both(pyrunc, runc, make_bundle,
                             ["sh", "-c", "cat /v/hello; grep ' /v ' /proc/self/mountinfo | cut -d' ' -f4-6; "
                                          "touch /v/x 2>&1; true"], edit, prepare)
    finally:
        os.chmod(locked, 0o755)
    assert ours.startswith("hi\n") and "Read-only file system" in ours
    assert ours == theirs


# ------------------------------------------------ item 9: no mount namespace


def _no_mount_ns(c: dict) -> None:
    c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "mount"]
    c["linux"]["maskedPaths"] = c["linux"]["readonlyPaths"] = []
    c["root"]["readonly"] = False


def _in_private_copy_of_the_host(script: str) -> str:
    """Runs `script` in a new mount namespace whose "/" is rshared, as on a
    systemd host, so what runc does to the caller's namespace stays there."""
    p = subprocess.run(["unshare", "-m", "sh", "-c", "mount --make-rshared / && " + script],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    return p.stdout


def test_no_mount_namespace_runs_in_the_callers(pyrunc, runc, make_bundle):
    """runc 1.1.5: mounts are made in the caller's namespace and chroot is
    used; it also makes the caller's "/" private (recursively) and leaves
    every mount behind after delete.  pyrunc shows the container the same
    world, leaves the caller's propagation alone and detaches everything at
    delete."""
    script_args = ["sh", "-c", "readlink /proc/self/ns/mnt; ls /; ls /dev | tr '\\n' ' '; echo; "
                               "grep -c . /proc/self/mountinfo >/dev/null && echo mountinfo-ok"]
    views = {}
    for rt in (runc, pyrunc):
        b = make_bundle(script_args, edit=_no_mount_ns)
        out = _in_private_copy_of_the_host(
            f"readlink /proc/self/ns/mnt; {' '.join(rt.argv)} --root {rt.root} run -b {b.path} {new_id()} && "
            f"echo ---; grep -c ' {b.rootfs}' /proc/self/mountinfo; grep ' / / ' /proc/self/mountinfo | cut -d' ' -f7")
        caller_ns, rest = out.split("\n", 1)
        inside, after = rest.split("---\n")
        container_ns, view = inside.split("\n", 1)
        assert container_ns == caller_ns  # the caller's mount namespace
        left, root_prop = after.split()
        views[rt is pyrunc] = (view, int(left), root_prop)
    (theirs, their_left, their_root), (ours, our_left, our_root) = views[False], views[True]
    assert ours == theirs and "mountinfo-ok" in ours and "null" in ours
    assert their_left > 0 and their_root == "-"  # runc's leftovers, and "/" made private
    assert our_left == 0 and our_root.startswith("shared:")


def test_no_mount_namespace_create_failure_and_delete_leave_nothing(pyrunc, make_bundle):
    ok = make_bundle(["sleep", "60"], edit=_no_mount_ns)
    bad = make_bundle(["true"], edit=lambda c: (_no_mount_ns(c), c["mounts"].append(_tmpfs("/bad", "size=bogus"))))
    cid = new_id()
    argv = " ".join(pyrunc.argv) + f" --root {pyrunc.root}"
    out = _in_private_copy_of_the_host(
        f"{argv} create -b {ok.path} {cid} </dev/null >/dev/null 2>&1; grep -c ' {ok.rootfs}' /proc/self/mountinfo; "
        f"{argv} delete --force {cid}; grep -c ' {ok.rootfs}' /proc/self/mountinfo; "
        f"{argv} run -b {bad.path} {new_id()} 2>&1; grep -c ' {bad.rootfs}' /proc/self/mountinfo; true")
    made, after_delete, error, after_failure = out.strip().split("\n")
    assert int(made) > 3 and after_delete == "0" and after_failure == "0"
    assert error.startswith("pyrunc: container init: ") and "/bad" in error and "size=bogus" in error
    assert not pyrunc.ids()


def test_no_mount_namespace_with_masked_paths_is_refused_like_runc(pyrunc, runc, make_bundle):
    b = make_bundle(["true"], edit=lambda c: c["linux"].__setitem__(
        "namespaces", [n for n in c["linux"]["namespaces"] if n["type"] != "mount"]))
    theirs = runc("run", "-b", str(b.path), new_id())
    ours = pyrunc("run", "-b", str(b.path), new_id())
    assert theirs.returncode != 0 and "without a private MNT namespace" in theirs.stderr
    assert ours.returncode == 1 and ours.stderr.count("\n") == 1
    assert ours.stderr.startswith("pyrunc: linux.maskedPaths: ") and "without a private MNT namespace" in ours.stderr
    assert not pyrunc.ids()
