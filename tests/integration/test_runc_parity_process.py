"""runc parity, the process side: the same bundle under Debian's runc 1.1.5 and
pyrunc, compared by what the container and the host see.

* issue 13 item 3: a new network namespace has `lo` up (not a joined one);
* issue 13 item 4: a non-root process.user gets the container's stdio (pipes,
  the pty) so `echo hi > /dev/stdout` works: run, create/start, exec, with and
  without a terminal.  Where pyrunc deliberately differs (host files passed as
  stdio are not chowned) the test says so;
* issue 13 item 5: HOME from the container's /etc/passwd (run and exec);
* issue 13 item 6: a missing process.cwd is created, inside the rootfs only;
* issue 19 item 5: a process.cwd only root (or only the user) can enter."""
from __future__ import annotations

import os
import select
import stat
import subprocess
import time

import pytest

from tests.conftest import PYRUNC, new_id
from tests.integration.test_tty import read_until, run_under_pty

USER = {"uid": 1000, "gid": 1000}


def both(runc, pyrunc, make_bundle, args, edit=None, **kw) -> dict[str, subprocess.CompletedProcess]:
    """`run` a fresh copy of the same bundle under each runtime, stdio pipes."""
    out = {}
    for name, rt in (("runc", runc), ("pyrunc", pyrunc)):
        b = make_bundle(args, edit=edit)
        kw.setdefault("stdin", subprocess.DEVNULL)
        out[name] = rt("run", "-b", str(b.path), new_id(), capture_output=True, **kw)
    return out


def as_user(c: dict) -> None:
    c["process"]["user"] = dict(USER)


def wait_stopped(rt, cid: str) -> None:
    deadline = time.monotonic() + 30
    while rt.state(cid)["status"] != "stopped" and time.monotonic() < deadline:
        time.sleep(0.02)
    assert rt.state(cid)["status"] == "stopped"


def drain(fd: int) -> bytes:
    """Read a pipe until EOF (every writer gone), with a guard against a hang."""
    buf = b""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            data = os.read(fd, 4096)
            if not data:
                break
            buf += data
    return buf


# ---------------------------------------------------------------- loopback

LOCALHOST = """cat /sys/class/net/lo/operstate
ip -o -4 addr show lo | grep -o 'inet [0-9./]*'
nc -l -p 5555 > /dev/shm/got &
i=0
until echo hello | nc 127.0.0.1 5555 2>/dev/null; do
  i=$((i+1)); if [ $i -gt 100 ]; then kill $!; echo no-connection; break; fi; usleep 20000
done
wait $!
echo got:$(cat /dev/shm/got)
"""


def test_loopback_is_up_in_a_new_network_namespace(runc, pyrunc, make_bundle):
    res = both(runc, pyrunc, make_bundle, ["sh", "-c", LOCALHOST])
    for name, p in res.items():
        assert p.returncode == 0, (name, p.stderr)
    # `unknown` is lo's operstate when up (it has no carrier); `down` before the fix
    assert res["pyrunc"].stdout == res["runc"].stdout == "unknown\ninet 127.0.0.1/8\ngot:hello\n"


def test_loopback_is_left_alone_in_a_joined_network_namespace(runc, pyrunc, make_bundle):
    holder = subprocess.Popen(["unshare", "--net", "sleep", "600"])
    try:
        path = f"/proc/{holder.pid}/ns/net"
        deadline = time.monotonic() + 10
        while os.readlink(path) == os.readlink("/proc/self/ns/net") and time.monotonic() < deadline:
            time.sleep(0.01)
        assert os.readlink(path) != os.readlink("/proc/self/ns/net")

        def edit(c):
            for n in c["linux"]["namespaces"]:
                if n["type"] == "network":
                    n["path"] = path
        res = both(runc, pyrunc, make_bundle, ["cat", "/sys/class/net/lo/operstate"], edit=edit)
        assert res["pyrunc"].stdout == res["runc"].stdout == "down\n", res
    finally:
        holder.kill()
        holder.wait()


# ---------------------------------------------------------------- stdio for a non-root user

REOPEN = "id -u; echo out > /dev/stdout; echo err > /dev/stderr; head -n1 /dev/stdin; echo rc=$?"


def test_run_hands_stdio_pipes_to_the_user(runc, pyrunc, make_bundle):
    res = both(runc, pyrunc, make_bundle, ["sh", "-c", REOPEN], edit=as_user, stdin=None, input="typed\n")
    for name, p in res.items():
        assert p.returncode == 0, (name, p.stderr)
    assert res["pyrunc"].stdout == res["runc"].stdout == "1000\nout\ntyped\nrc=0\n"
    assert res["pyrunc"].stderr == res["runc"].stderr == "err\n"


def test_create_start_hands_the_callers_pipes_to_the_user(runc, pyrunc, make_bundle):
    """create's stdio are the container's: pipes from the caller, chowned by
    the init before the identity switch (runc does it at create too)."""
    seen = {}
    for name, rt in (("runc", runc), ("pyrunc", pyrunc)):
        b = make_bundle(["sh", "-c", REOPEN], edit=as_user)
        cid = new_id()
        in_r, in_w = os.pipe()
        out_r, out_w = os.pipe()
        try:
            p = rt("create", "-b", str(b.path), cid, stdin=in_r, stdout=out_w, stderr=out_w)
            os.close(in_r)
            os.close(out_w)
            in_r = out_w = -1
            assert p.returncode == 0, (name, p.stderr)
            os.write(in_w, b"typed\n")
            rt("start", cid, check=True)
            seen[name] = drain(out_r)
            wait_stopped(rt, cid)
        finally:
            for fd in (in_r, in_w, out_r, out_w):
                if fd >= 0:
                    os.close(fd)
            rt("delete", "--force", cid)
    assert seen["pyrunc"] == seen["runc"], seen
    assert sorted(seen["pyrunc"].decode().splitlines()) == sorted(["1000", "out", "err", "typed", "rc=0"])


def test_host_files_passed_as_stdio_keep_their_owner(runc, pyrunc, make_bundle, tmp_path):
    """Deliberately unlike runc 1.1.5: runc fchowns whatever fds 0-2 are
    (only /dev/null is skipped), so a regular file or the caller's own
    terminal passed to `create` becomes the host's uid 1000's, for good
    (measured here).  pyrunc hands over only what exists for the container
    (anonymous pipes, sockets, the pty it made) and leaves host files alone;
    `echo > /dev/stdout` then fails for that user under pyrunc, as it would
    for any file the user may not open.  /dev/null is untouched by both."""
    null_before = os.stat("/dev/null")
    owners = {}
    for name, rt in (("runc", runc), ("pyrunc", pyrunc)):
        b = make_bundle(["sh", "-c", "id -u; echo hi > /dev/stdout"], edit=as_user)
        cid = new_id()
        log = tmp_path / f"{name}.log"
        log.touch(mode=0o644)
        master, slave = os.openpty()
        try:
            with open(log, "wb") as out:
                p = rt("create", "-b", str(b.path), cid, stdin=subprocess.DEVNULL, stdout=out, stderr=slave)
            assert p.returncode == 0, (name, p.stderr)
            rt("start", cid, check=True)
            wait_stopped(rt, cid)
            owners[name] = (log.stat().st_uid, os.fstat(slave).st_uid)
        finally:
            os.close(master)
            os.close(slave)
            rt("delete", "--force", cid)
    assert owners["runc"] == (1000, 1000)  # runc 1.1.5 chowns the host file and the host pty
    assert owners["pyrunc"] == (0, 0)
    null_after = os.stat("/dev/null")
    assert (null_after.st_uid, null_after.st_gid, null_after.st_mode) == \
        (null_before.st_uid, null_before.st_gid, null_before.st_mode)


TTY_SCRIPT = "id -u; stat -c owner:%u /proc/self/fd/0; echo hi > /dev/stdout; echo via-tty > $(tty); echo done"


def tty_edit(c: dict) -> None:
    as_user(c)
    c["process"]["terminal"] = True
    c["process"]["args"] = ["sh", "-c", TTY_SCRIPT]


def test_create_with_a_terminal_hands_the_pty_to_the_user(runc, pyrunc, make_bundle, console_receiver):
    seen = {}
    for name, rt in (("runc", runc), ("pyrunc", pyrunc)):
        b = make_bundle(edit=tty_edit)
        cid = new_id("tty")
        r = console_receiver()
        try:
            rt("create", "--console-socket", r.path, "-b", str(b.path), cid, check=True)
            master = r.wait()
            rt("start", cid, check=True)
            seen[name] = read_until(master, b"done\r\n").replace(b"\r\n", b"\n")
        finally:
            rt("delete", "--force", cid)
    assert seen["pyrunc"] == seen["runc"] == b"1000\nowner:1000\nhi\nvia-tty\ndone\n", seen


def test_run_with_a_terminal_hands_the_pty_to_the_user(runc, pyrunc, make_bundle):
    seen = {}
    for name, rt in (("runc", runc), ("pyrunc", pyrunc)):
        b = make_bundle(edit=tty_edit)
        p, master = run_under_pty([*rt.argv, "--root", str(rt.root), "run", "-b", str(b.path), new_id("tty")],
                                  (24, 80))
        try:
            seen[name] = read_until(master, b"done\r\n").replace(b"\r\n", b"\n")
            assert p.wait(30) == 0
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            os.close(master)
    assert seen["pyrunc"] == seen["runc"] == b"1000\nowner:1000\nhi\nvia-tty\ndone\n", seen


@pytest.fixture
def sleeping(runc, pyrunc, make_bundle):
    """A running `sleep` container under each runtime: {name: (runtime, id)}."""
    started = {}
    try:
        for name, rt in (("runc", runc), ("pyrunc", pyrunc)):
            b = make_bundle(["sleep", "600"], edit=lambda c: c["root"].update(readonly=False))
            cid = new_id()
            rt("run", "-d", "-b", str(b.path), cid, check=True)
            started[name] = (rt, cid)
        yield started
    finally:
        for rt, cid in started.values():
            rt("delete", "--force", cid)


def test_exec_hands_stdio_to_the_user(sleeping):
    res = {}
    for name, (rt, cid) in sleeping.items():
        res[name] = rt("exec", "--user", "1000:1000", cid, "sh", "-c", REOPEN, capture_output=True,
                       input="typed\n")
        assert res[name].returncode == 0, (name, res[name].stderr)
    assert res["pyrunc"].stdout == res["runc"].stdout == "1000\nout\ntyped\nrc=0\n"
    assert res["pyrunc"].stderr == res["runc"].stderr == "err\n"


def test_exec_with_a_terminal_hands_the_pty_to_the_user(sleeping, console_receiver):
    seen = {}
    for name, (rt, cid) in sleeping.items():
        # detached, the pty master over a console socket
        r = console_receiver()
        p = rt("exec", "-t", "-d", "--console-socket", r.path, "--user", "1000:1000", cid, "sh", "-c", TTY_SCRIPT)
        assert p.returncode == 0, (name, p.stderr)
        seen[name] = read_until(r.wait(), b"done\r\n").replace(b"\r\n", b"\n")
        # in the foreground, proxied to the caller's terminal
        p, master = run_under_pty([*rt.argv, "--root", str(rt.root), "exec", "-t", "--user", "1000:1000", cid,
                                   "sh", "-c", TTY_SCRIPT], (24, 80))
        try:
            seen[name + " foreground"] = read_until(master, b"done\r\n").replace(b"\r\n", b"\n")
            assert p.wait(30) == 0
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            os.close(master)
    want = b"1000\nowner:1000\nhi\nvia-tty\ndone\n"
    assert seen == {"runc": want, "runc foreground": want, "pyrunc": want, "pyrunc foreground": want}, seen


# ---------------------------------------------------------------- HOME


def _user(uid: int, env: list[str] | None = None):
    def edit(c):
        c["process"]["user"] = {"uid": uid, "gid": uid}
        base = [e for e in c["process"]["env"] if not e.startswith("HOME=")]
        c["process"]["env"] = base + (env or [])
    return edit


@pytest.mark.parametrize("uid,env,want", [
    (0, None, "/root"),  # busybox rootfs: root:x:0:0:root:/root:/bin/sh
    (1000, None, "/home/user"),  # user:x:1000:1000:user:/home/user:/bin/sh
    (1234, None, "/"),  # no entry
    (1000, ["HOME="], "/home/user"),  # an empty HOME counts as none (runc)
    (1000, ["HOME=/custom"], "/custom"),  # a HOME of the config's wins
])
def test_home_from_the_containers_passwd(runc, pyrunc, make_bundle, uid, env, want):
    res = both(runc, pyrunc, make_bundle, ["sh", "-c", "echo $HOME; env | grep -c ^HOME="], edit=_user(uid, env))
    assert res["pyrunc"].stdout == res["runc"].stdout == f"{want}\n1\n", res


def test_home_sees_mounts_over_etc_passwd(runc, pyrunc, make_bundle, tmp_path):
    """The init reads /etc/passwd after the mounts (podman bind-mounts its
    own /etc/passwd for --user): the mounted file counts, not the image's."""
    passwd = tmp_path / "passwd"
    passwd.write_text("root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/from/the/mount:/bin/sh\n")

    def edit(c):
        _user(1000)(c)
        c["mounts"].append({"destination": "/etc/passwd", "type": "bind", "source": str(passwd),
                            "options": ["bind", "ro"]})
    res = both(runc, pyrunc, make_bundle, ["sh", "-c", "echo $HOME"], edit=edit)
    assert res["pyrunc"].stdout == res["runc"].stdout == "/from/the/mount\n", res


def test_home_passwd_symlink_stays_inside_the_rootfs(runc, pyrunc, make_bundle, tmp_path):
    """/etc/passwd an absolute symlink to a host path: followed inside the
    container's root (where it does not exist), never on the host."""
    host = tmp_path / "hostpasswd"
    host.write_text("user:x:1000:1000::/read/from/the/host:/bin/sh\n")
    res = {}
    for name, rt in (("runc", runc), ("pyrunc", pyrunc)):
        b = make_bundle(["sh", "-c", "echo $HOME"], edit=_user(1000))
        (b.rootfs / "etc" / "passwd").unlink()
        (b.rootfs / "etc" / "passwd").symlink_to(host)
        res[name] = rt("run", "-b", str(b.path), new_id(), capture_output=True, stdin=subprocess.DEVNULL)
    assert res["pyrunc"].stdout == res["runc"].stdout == "/\n", res


def test_home_and_stdio_with_a_profile_denying_openat2(runc, pyrunc, make_bundle):
    """The init reads /etc/passwd with openat2 (runc with openat), before
    the seccomp filter is loaded (without noNewPrivileges the filter comes
    before the identity switch), so a profile denying openat2 does not turn
    HOME into "/".  (A profile denying fstatfs, which pyrunc's stdio check
    also uses, stops runc itself: "ensure /proc/self/fd is on procfs".)"""
    def edit(c):
        as_user(c)
        c["process"]["env"] = [e for e in c["process"]["env"] if not e.startswith("HOME=")]
        c["process"]["noNewPrivileges"] = False
        c["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW",
                                 "syscalls": [{"names": ["openat2"], "action": "SCMP_ACT_ERRNO"}]}
    res = both(runc, pyrunc, make_bundle, ["sh", "-c", "echo $HOME; echo hi > /dev/stdout"], edit=edit)
    assert res["pyrunc"].stdout == res["runc"].stdout == "/home/user\nhi\n", res


@pytest.mark.parametrize("flags,want", [
    ([], "/root"),
    (["--user", "1000:1000"], "/home/user"),
    (["--user", "1234"], "/"),
    (["--user", "1000", "--env", "HOME="], "/home/user"),
    (["--user", "1000", "--env", "HOME=/set"], "/set"),
])
def test_exec_home_from_the_containers_passwd(sleeping, flags, want):
    res = {name: rt("exec", *flags, cid, "sh", "-c", "echo $HOME", capture_output=True).stdout
           for name, (rt, cid) in sleeping.items()}
    assert res["pyrunc"] == res["runc"] == f"{want}\n", res


# ---------------------------------------------------------------- process.cwd


def test_missing_cwd_is_created(runc, pyrunc, make_bundle):
    """runc: MkdirAll(cwd, 0755) in the new root, under the caller's umask,
    before the root is made read-only; `..` cannot climb out."""
    seen = {}

    def edit(c):
        c["process"]["cwd"] = "/a/../x/b/c"
        c["root"]["readonly"] = True
    for name, rt in (("runc", runc), ("pyrunc", pyrunc)):
        b = make_bundle(["sh", "-c", "pwd; stat -c '%n %a %u' /x /x/b /x/b/c"], edit=edit)
        p = rt("run", "-b", str(b.path), new_id(), capture_output=True, stdin=subprocess.DEVNULL,
               preexec_fn=lambda: os.umask(0o027))
        assert p.returncode == 0, (name, p.stderr)
        host = [(d, oct(stat.S_IMODE(os.stat(b.rootfs / d).st_mode))) for d in ("a", "x", "x/b", "x/b/c")]
        seen[name] = (p.stdout, host)
    assert seen["pyrunc"] == seen["runc"], seen
    assert seen["pyrunc"][0] == "/x/b/c\n/x 750 0\n/x/b 750 0\n/x/b/c 750 0\n"


@pytest.mark.parametrize("link", ["/escape/target", "../../../../escape/target"])
def test_missing_cwd_through_a_symlink_out_of_the_rootfs(runc, pyrunc, make_bundle, tmp_path, link):
    """A cwd under a symlink that points out of the rootfs: resolved inside
    it (where the target is missing), so both refuse and nothing is made on
    the host."""
    target = tmp_path / "escape"
    link = link.replace("/escape", str(target)) if link.startswith("/") else link
    for name, rt in (("runc", runc), ("pyrunc", pyrunc)):
        b = make_bundle(["pwd"], edit=lambda c: c["process"].update(cwd="/evil/sub"))
        (b.rootfs / "evil").symlink_to(link)
        p = rt("run", "-b", str(b.path), new_id(), capture_output=True, stdin=subprocess.DEVNULL)
        assert p.returncode != 0, (name, p.stdout)
        assert not target.exists() and not (b.rootfs / "escape").exists(), name
        assert rt.ids() == [], name
        if name == "pyrunc":
            assert p.stderr.count("\n") == 1 and "process.cwd /evil/sub" in p.stderr, p.stderr


def test_exec_does_not_create_a_missing_cwd(sleeping):
    """runc creates only the container's process.cwd; exec --cwd fails (255)."""
    for name, (rt, cid) in sleeping.items():
        p = rt("exec", "--cwd", "/nonexistent", cid, "pwd", capture_output=True)
        assert p.returncode == 255 and "/nonexistent" in p.stderr, (name, p.stderr)
        assert rt("exec", cid, "test", "-e", "/nonexistent").returncode == 1, name


def _root700(c: dict) -> None:
    as_user(c)
    c["process"]["cwd"] = "/root700"


def test_cwd_only_root_can_enter(runc, pyrunc, make_bundle):
    """runc changes directory before dropping privileges: the process starts
    in a directory it could not enter itself (issue 19 item 5)."""
    res = {}
    for name, rt in (("runc", runc), ("pyrunc", pyrunc)):
        b = make_bundle(["sh", "-c", "pwd; id -u; ls . >/dev/null 2>&1 || echo no-read"], edit=_root700)
        (b.rootfs / "root700").mkdir(mode=0o700)
        res[name] = rt("run", "-b", str(b.path), new_id(), capture_output=True, stdin=subprocess.DEVNULL)
        assert res[name].returncode == 0, (name, res[name].stderr)
    assert res["pyrunc"].stdout == res["runc"].stdout == "/root700\n1000\nno-read\n"


def test_exec_cwd_only_root_can_enter(sleeping):
    res = {}
    for name, (rt, cid) in sleeping.items():
        rt("exec", cid, "sh", "-c", "mkdir -p /root700 && chmod 700 /root700", check=True)
        res[name] = rt("exec", "--user", "1000:1000", "--cwd", "/root700", cid, "sh", "-c", "pwd; id -u",
                       capture_output=True)
        assert res[name].returncode == 0, (name, res[name].stderr)
    assert res["pyrunc"].stdout == res["runc"].stdout == "/root700\n1000\n"


def test_cwd_only_the_user_can_enter(runc, pyrunc, make_bundle):
    """The other half of runc's two chdirs: in a user namespace the
    container's root cannot enter a directory owned by an unmapped host uid
    (no CAP_DAC_OVERRIDE over it); the user, through its group, can.  The
    chdir as root fails with EACCES and is tried again after the switch."""
    def edit(c):
        as_user(c)
        c["process"]["cwd"] = "/grp"
        c["root"]["readonly"] = False
        c["linux"]["namespaces"].append({"type": "user"})
        c["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 1},
                                     {"containerID": 1000, "hostID": 101000, "size": 1}]
        c["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 1},
                                     {"containerID": 5, "hostID": 100005, "size": 1},  # devpts gid=5
                                     {"containerID": 1000, "hostID": 101000, "size": 1}]
    res = {}
    for name, rt in (("runc", runc), ("pyrunc", pyrunc)):
        b = make_bundle(["sh", "-c", "pwd; id -u"], edit=edit)
        grp = b.rootfs / "grp"
        grp.mkdir()
        os.chown(grp, 5000, 101000)  # owner unmapped, group = the container's gid 1000
        os.chmod(grp, 0o070)
        os.chown(b.rootfs, 100000, 100000)
        p = b.path  # the mapped root must reach the rootfs (pytest's tmp dirs are 0700)
        while str(p) != "/tmp":
            os.chmod(p, os.stat(p).st_mode | 0o055)
            p = p.parent
        res[name] = rt("run", "-b", str(b.path), new_id(), capture_output=True, stdin=subprocess.DEVNULL)
        assert res[name].returncode == 0, (name, res[name].stderr)
    assert res["pyrunc"].stdout == res["runc"].stdout == "/grp\n1000\n"
