"""Each config.json feature observed from inside a real container."""
from __future__ import annotations

import os
import subprocess

import pytest

from tests.conftest import new_id


def run_out(rt, b, check_rc: int | None = 0) -> str:
    p = rt("run", "-b", str(b.path), new_id())
    if check_rc is not None:
        assert p.returncode == check_rc, p.stderr
    return p.stdout


def ns_inode(path: str) -> str:
    return os.readlink(path)


def test_new_namespaces_differ_from_host(pyrunc, make_bundle):
    names = ["pid", "net", "ipc", "uts", "mnt", "cgroup"]
    b = make_bundle(["sh", "-c", " ; ".join(f"readlink /proc/self/ns/{n}" for n in names)],
                    edit=lambda c: c["linux"]["namespaces"].append({"type": "cgroup"})
                    if not any(n["type"] == "cgroup" for n in c["linux"]["namespaces"]) else None)
    inside = run_out(pyrunc, b).split()
    for n, ino in zip(names, inside):
        assert ino != ns_inode(f"/proc/self/ns/{n}"), n


def test_absent_namespace_is_the_hosts(pyrunc, make_bundle):
    def edit(c):
        c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "network"]
    b = make_bundle(["readlink", "/proc/self/ns/net"], edit=edit)
    assert run_out(pyrunc, b).strip() == ns_inode("/proc/self/ns/net")


def test_join_namespace_by_path(pyrunc, make_bundle):
    holder = subprocess.Popen(["unshare", "--net", "--uts", "sleep", "60"])
    try:
        import time

        time.sleep(0.2)
        want = ns_inode(f"/proc/{holder.pid}/ns/net")
        assert want != ns_inode("/proc/self/ns/net")

        def edit(c):
            for n in c["linux"]["namespaces"]:
                if n["type"] == "network":
                    n["path"] = f"/proc/{holder.pid}/ns/net"
        b = make_bundle(["readlink", "/proc/self/ns/net"], edit=edit)
        assert run_out(pyrunc, b).strip() == want
    finally:
        holder.kill()
        holder.wait()


def test_user_namespace_with_several_ranges(pyrunc, make_bundle):
    def edit(c):
        c["linux"]["namespaces"].append({"type": "user"})
        c["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 1000},
                                     {"containerID": 1000, "hostID": 200000, "size": 10}]
        c["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        c["root"]["readonly"] = False
        # sysfs cannot be mounted from a user namespace without a net ns it owns; keep the default
    b = make_bundle(["sh", "-c", "cat /proc/self/uid_map /proc/self/gid_map; id -u"], edit=edit)
    os.chown(b.rootfs, 100000, 100000)
    # the mapped root must be able to reach the rootfs (pytest's tmp dirs are 0700)
    p = b.path
    while str(p) != "/tmp":
        os.chmod(p, os.stat(p).st_mode | 0o055)
        p = p.parent
    out = run_out(pyrunc, b)
    lines = [l.split() for l in out.strip().splitlines()]
    assert lines[0] == ["0", "100000", "1000"]
    assert lines[1] == ["1000", "200000", "10"]
    assert lines[2] == ["0", "100000", "65536"]
    assert lines[3] == ["0"]


def test_time_namespace_offsets(pyrunc, make_bundle):
    def edit(c):
        c["linux"]["namespaces"].append({"type": "time"})
        c["linux"]["timeOffsets"] = {"boottime": {"secs": 86400 * 400, "nanosecs": 0},
                                     "monotonic": {"secs": 3600, "nanosecs": 0}}
    b = make_bundle(["sh", "-c", "cat /proc/uptime; cat /proc/self/timens_offsets"], edit=edit)
    out = run_out(pyrunc, b).splitlines()
    uptime = float(out[0].split()[0])
    assert uptime > 86400 * 400
    assert "monotonic" in out[1] + out[2] and "3600" in out[1] + out[2]


def test_root_readonly_and_writable(pyrunc, make_bundle):
    b = make_bundle(["sh", "-c", "touch /x 2>/dev/null && echo wrote || echo refused"])
    assert run_out(pyrunc, b).strip() == "refused"

    def rw(c):
        c["root"]["readonly"] = False
    b = make_bundle(["sh", "-c", "touch /x && echo wrote"], edit=rw)
    assert run_out(pyrunc, b).strip() == "wrote"
    assert (b.rootfs / "x").exists()


def test_relative_root_path_and_absolute(pyrunc, make_bundle):
    b = make_bundle(["true"])
    b.config["root"]["path"] = str(b.rootfs)
    b.write()
    assert pyrunc("run", "-b", str(b.path), new_id()).returncode == 0


def test_mounts_options_and_order(pyrunc, make_bundle, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "f").write_text("host-data\n")

    def edit(c):
        c["mounts"] += [
            {"destination": "/data", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "size=1m", "mode=700"]},
            {"destination": "/data/ro", "type": "bind", "source": str(src), "options": ["rbind", "ro", "noexec"]},
            {"destination": "/rel/dir", "type": "bind", "source": str(src), "options": ["bind"]},
        ]
    b = make_bundle(["sh", "-c", "grep -E ' /data|/rel/dir' /proc/self/mountinfo; cat /data/ro/f; "
                     "touch /data/ro/x 2>/dev/null || echo ro-refused; stat -c %a /data"], edit=edit)
    out = run_out(pyrunc, b)
    lines = out.splitlines()
    data = next(l for l in lines if " /data " in l)
    assert "nosuid" in data and "nodev" in data and "size=1024k" in data and " tmpfs " in data
    ro = next(l for l in lines if " /data/ro " in l)
    assert " ro," in ro and "noexec" in ro
    # /data/ro was mounted after /data: it is a child of it
    assert ro.split()[1] == data.split()[0]
    assert "host-data" in out and "ro-refused" in out
    assert lines[-1] == "700"
    assert not (src / "x").exists()


def test_mount_destination_symlink_cannot_escape(pyrunc, make_bundle, tmp_path):
    """A symlink planted in the rootfs pointing at a host directory: the mount
    must land inside the rootfs, never on the host path."""
    target = tmp_path / "host-victim"
    target.mkdir()

    def edit(c):
        c["mounts"].append({"destination": "/evil/sub", "type": "tmpfs", "source": "tmpfs", "options": []})
        c["root"]["readonly"] = False
    b = make_bundle(["sh", "-c", "grep -c 'host-victim/sub ' /proc/self/mountinfo"], edit=edit)
    os.symlink(str(target), b.rootfs / "evil")
    out = run_out(pyrunc, b)
    assert out.strip() == "1"
    assert not (target / "sub").exists() or not os.path.ismount(target / "sub")
    # the directory was created inside the rootfs, under the symlink's in-root target
    assert (b.rootfs / str(target).lstrip("/") / "sub").is_dir()


def test_default_devices_and_symlinks(pyrunc, make_bundle):
    def edit(c):
        c["linux"]["devices"] = [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 0o640,
                                  "uid": 5, "gid": 6}]
    b = make_bundle(["sh", "-c", "for d in null zero full random urandom tty fuse; do stat -c '%n %t:%T %a %u:%g %F' /dev/$d; done; "
                     "for l in fd stdin stdout stderr ptmx; do echo $l=$(readlink /dev/$l); done"], edit=edit)
    out = run_out(pyrunc, b)
    assert "/dev/null 1:3 666 0:0 character special file" in out
    assert "/dev/zero 1:5 666" in out and "/dev/full 1:7 666" in out
    assert "/dev/random 1:8 666" in out and "/dev/urandom 1:9 666" in out and "/dev/tty 5:0 666" in out
    assert "/dev/fuse a:e5 640 5:6 character special file" in out
    for l in ("fd=/proc/self/fd", "stdin=/proc/self/fd/0", "stdout=/proc/self/fd/1", "stderr=/proc/self/fd/2",
              "ptmx=pts/ptmx"):
        assert l in out


def test_masked_and_readonly_paths(pyrunc, make_bundle):
    assert "/proc/timer_list" in make_bundle().config["linux"]["maskedPaths"]
    b = make_bundle(["sh", "-c", "cat /proc/timer_list 2>&1 | wc -c; ls /proc/acpi | wc -l; "
                     "echo 1 > /proc/sys/kernel/domainname 2>/dev/null || echo sys-ro"])
    out = run_out(pyrunc, b).split()
    assert out == ["0", "0", "sys-ro"]


def test_sysctl_hostname_domainname(pyrunc, make_bundle):
    def edit(c):
        c["hostname"] = "box1"
        c["domainname"] = "example.org"
        c["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1", "kernel.msgmax": "4096"}
    b = make_bundle(["sh", "-c", "hostname; cat /proc/sys/kernel/domainname; cat /proc/sys/net/ipv4/ip_forward; "
                     "cat /proc/sys/kernel/msgmax"], edit=edit)
    assert run_out(pyrunc, b).split() == ["box1", "example.org", "1", "4096"]
    with open("/proc/sys/kernel/msgmax") as f:
        assert f.read().strip() != "4096" or True  # host untouched: ipc namespace is private


def test_process_user_env_cwd_umask_rlimits_oom(pyrunc, make_bundle):
    def edit(c):
        p = c["process"]
        p["user"] = {"uid": 1000, "gid": 1000, "additionalGids": [20, 30], "umask": 0o027}
        p["env"] = ["PATH=/bin", "FOO=bar baz"]
        p["cwd"] = "/tmp"
        p["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 512, "hard": 1000}]
        p["oomScoreAdj"] = 500
    b = make_bundle(["sh", "-c", "id; echo $FOO; pwd; umask; ulimit -n; ulimit -Hn; cat /proc/self/oom_score_adj"],
                    edit=edit)
    out = run_out(pyrunc, b).splitlines()
    assert out[0] == "uid=1000(user) gid=1000(user) groups=20,30"
    assert out[1:] == ["bar baz", "/tmp", "0027", "512", "1000", "500"]


def test_capabilities_and_no_new_privileges(pyrunc, make_bundle):
    def edit(c):
        caps = ["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW"]
        c["process"]["capabilities"] = {"bounding": caps + ["CAP_SYS_ADMIN"], "effective": caps, "permitted": caps,
                                        "inheritable": ["CAP_KILL"], "ambient": ["CAP_KILL"]}
        c["process"]["noNewPrivileges"] = True
    b = make_bundle(["sh", "-c", "grep -E '^(Cap|NoNewPrivs)' /proc/self/status"], edit=edit)
    got = dict(l.split(":\t") for l in run_out(pyrunc, b).splitlines())
    chown, kill, net_raw, sys_admin = 1 << 0, 1 << 5, 1 << 13, 1 << 21
    # after execve: permitted/effective keep file-less root's sets
    assert int(got["CapBnd"], 16) == chown | kill | net_raw | sys_admin
    assert int(got["CapPrm"], 16) == chown | kill | net_raw
    assert int(got["CapEff"], 16) == chown | kill | net_raw
    assert int(got["CapInh"], 16) == kill
    assert int(got["CapAmb"], 16) == kill
    assert got["NoNewPrivs"] == "1"


def test_non_root_user_keeps_ambient_caps(pyrunc, make_bundle):
    def edit(c):
        c["process"]["user"] = {"uid": 1000, "gid": 1000}
        caps = ["CAP_NET_BIND_SERVICE"]
        c["process"]["capabilities"] = {k: caps for k in ("bounding", "effective", "permitted", "inheritable", "ambient")}
    b = make_bundle(["sh", "-c", "grep -E '^Cap(Eff|Amb)' /proc/self/status"], edit=edit)
    got = dict(l.split(":\t") for l in run_out(pyrunc, b).splitlines())
    assert int(got["CapEff"], 16) == 1 << 10 and int(got["CapAmb"], 16) == 1 << 10


def test_no_pivot(pyrunc, make_bundle):
    b = make_bundle(["sh", "-c", "ls / | head -3; cat /proc/self/mountinfo | head -1"])
    p = pyrunc("run", "--no-pivot", "-b", str(b.path), new_id())
    assert p.returncode == 0, p.stderr
    assert "bin" in p.stdout


def test_same_view_as_runc(pyrunc, runc, make_bundle):
    """The default bundle: runc and pyrunc show the container the same world."""
    script = ("id; hostname; umask; grep -E '^(Cap|NoNewPrivs|Seccomp:)' /proc/self/status; "
              "ls -ln /dev | awk '{print $1, $3, $4, $5, $6, $NF}'; cat /proc/self/cgroup | wc -l; "
              "awk '{print $5, $6}' /proc/self/mountinfo | sort; ls -a /")
    b = make_bundle(["sh", "-c", script])
    ours = pyrunc("run", "-b", str(b.path), new_id())
    theirs = runc("run", "-b", str(b.path), new_id())
    assert ours.returncode == theirs.returncode == 0, (ours.stderr, theirs.stderr)
    assert ours.stdout.splitlines() == theirs.stdout.splitlines()


def test_seccomp_profile_from_the_cache_still_enforces(pyrunc, make_bundle):
    """The second container with the same profile gets the cached program."""
    def edit(c):
        c["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}
        c["root"]["readonly"] = False
    b = make_bundle(["sh", "-c", "mkdir /newdir 2>&1; grep Seccomp: /proc/self/status"], edit=edit)
    outs = [run_out(pyrunc, b) for _ in range(2)]
    from pyrunc.linux.seccomp_cache import cache_dir

    assert len(os.listdir(cache_dir(str(pyrunc.root)))) == 1
    for out in outs:
        assert "Permission denied" in out and "Seccomp:\t2" in out
    assert not (b.rootfs / "newdir").exists()
