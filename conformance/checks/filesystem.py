"""config.md#root and #mounts, config-linux.md default filesystems, masked and
read-only paths, runtime-linux.md /dev symbolic links."""
from __future__ import annotations

import shutil
from typing import Any

from ..harness import Ctx, check, expect, expect_eq, mount_at

MI = ["file", "/proc/self/mountinfo"]


@check("config.md#root", "root.path is the container's root filesystem")
def root_path(ctx: Ctx) -> None:
    b = ctx.bundle()
    out = ctx.probe(b, ["read", "/conformance-rootfs"], ["stat", "/checker"])
    expect_eq(out.need("read./conformance-rootfs"), "OK 7", "reading the rootfs marker file")


@check("config.md#root", "an absolute root.path is used as is")
def root_absolute(ctx: Ctx) -> None:
    b = ctx.bundle()
    b.config["root"]["path"] = str(b.rootfs.resolve())
    out = ctx.probe(b, ["read", "/conformance-rootfs"])
    expect_eq(out.need("read./conformance-rootfs"), "OK 7", "reading the rootfs marker file")


def _propagation(m: dict[str, Any]) -> set[str]:
    return {f.split(":")[0] for f in m["optional"]}


@check("config-linux.md#rootfs-mount-propagation", "rootfsPropagation private: the root mount has no peers")
def rootfs_private(ctx: Ctx) -> None:
    b = ctx.bundle()
    b.linux["rootfsPropagation"] = "private"
    out = ctx.probe(b, MI)
    got = _propagation(mount_at(out, "/"))
    expect(not got & {"shared", "master"}, f"root mount propagation tags {sorted(got)}, want none")


@check("config-linux.md#rootfs-mount-propagation", "rootfsPropagation shared: the root mount is in a peer group")
def rootfs_shared(ctx: Ctx) -> None:
    b = ctx.bundle()
    b.linux["rootfsPropagation"] = "shared"
    out = ctx.probe(b, MI)
    got = _propagation(mount_at(out, "/"))
    expect("shared" in got, f"root mount propagation tags {sorted(got)}, want shared:N")


@check("config.md#root", "root.readonly true makes the root filesystem read-only")
def root_readonly(ctx: Ctx) -> None:
    b = ctx.bundle()
    b.config["root"]["readonly"] = True
    out = ctx.probe(b, ["create", "/"], MI)
    expect_eq(out.need("create./"), "ERR EROFS", "creating a file in /")
    expect("ro" in mount_at(out, "/")["options"], "/ is not mounted ro")


@check("config.md#root", "root.readonly false leaves the root filesystem writable")
def root_writable(ctx: Ctx) -> None:
    b = ctx.bundle()
    out = ctx.probe(b, ["create", "/"])
    expect_eq(out.need("create./"), "OK", "creating a file in /")


@check("config.md#mounts", "tmpfs mount with nosuid, nodev, noexec and size options")
def mount_tmpfs_options(ctx: Ctx) -> None:
    b = ctx.bundle()
    b.add_mount("/mnt", "tmpfs", "tmpfs", ["nosuid", "nodev", "noexec", "size=1m"])
    out = ctx.probe(b, MI, ["create", "/mnt"])
    m = mount_at(out, "/mnt")
    expect_eq(m["fstype"], "tmpfs", "fstype")
    missing = {"nosuid", "nodev", "noexec"} - m["options"]
    expect(not missing, f"missing mount flags {sorted(missing)}: {sorted(m['options'])}")
    expect("size=1024k" in m["super"], f"tmpfs size option not applied: {sorted(m['super'])}")
    expect_eq(out.need("create./mnt"), "OK", "creating a file in the tmpfs")


@check("config.md#mounts", "ro option makes a mount read-only")
def mount_ro(ctx: Ctx) -> None:
    b = ctx.bundle()
    b.add_mount("/mnt", "tmpfs", "tmpfs", ["ro", "size=1m"])
    out = ctx.probe(b, MI, ["create", "/mnt"])
    expect("ro" in mount_at(out, "/mnt")["options"], "mount not ro in mountinfo")
    expect_eq(out.need("create./mnt"), "ERR EROFS", "creating a file in the ro mount")


@check("config.md#mounts", "bind mount (rbind) shows the host directory, read-write")
def mount_bind(ctx: Ctx) -> None:
    b = ctx.bundle()
    src = ctx.host_dir("bind-src")
    (src / "data").write_text("bound!\n")
    b.add_mount("/mnt", "bind", str(src), ["rbind", "rw"])
    out = ctx.probe(b, ["read", "/mnt/data"], ["create", "/mnt"])
    expect_eq(out.need("read./mnt/data"), "OK 7", "reading a file through the bind mount")
    expect_eq(out.need("create./mnt"), "OK", "creating a file in the rw bind mount")


@check("config.md#mounts", "bind mount without a type (options bind) works")
def mount_bind_no_type(ctx: Ctx) -> None:
    b = ctx.bundle()
    src = ctx.host_dir("bind-src")
    (src / "data").write_text("bound!\n")
    b.add_mount("/mnt", None, str(src), ["bind"])
    out = ctx.probe(b, ["read", "/mnt/data"])
    expect_eq(out.need("read./mnt/data"), "OK 7", "reading a file through the bind mount")


@check("config.md#mounts", "read-only bind mount (bind, ro) rejects writes")
def mount_bind_ro(ctx: Ctx) -> None:
    b = ctx.bundle()
    src = ctx.host_dir("bind-src")
    (src / "data").write_text("bound!\n")
    b.add_mount("/mnt", "bind", str(src), ["bind", "ro"])
    out = ctx.probe(b, MI, ["read", "/mnt/data"], ["create", "/mnt"])
    expect("ro" in mount_at(out, "/mnt")["options"], "bind mount not ro in mountinfo")
    expect_eq(out.need("read./mnt/data"), "OK 7", "reading through the ro bind mount")
    expect_eq(out.need("create./mnt"), "ERR EROFS", "creating a file in the ro bind mount")


@check("config.md#mounts", "bind mount with noexec, nosuid, nodev applies the flags")
def mount_bind_noexec(ctx: Ctx) -> None:
    b = ctx.bundle()
    src = ctx.host_dir("bind-src")
    shutil.copy2(ctx.suite.checker, src / "prog")
    b.add_mount("/mnt", "bind", str(src), ["bind", "noexec", "nosuid", "nodev"])
    out = ctx.probe(b, MI, ["exec", "/mnt/prog"], ["exec", "/checker"])
    m = mount_at(out, "/mnt")
    missing = {"noexec", "nosuid", "nodev"} - m["options"]
    expect(not missing, f"missing mount flags {sorted(missing)}: {sorted(m['options'])}")
    expect_eq(out.need("exec./mnt/prog"), "ERR EACCES", "executing from the noexec mount")
    expect_eq(out.need("exec./checker"), "OK", "executing from the rootfs")


@check("config.md#mounts", "bind mount of a single file")
def mount_bind_file(ctx: Ctx) -> None:
    b = ctx.bundle()
    src = ctx.host_dir("bind-src") / "file"
    src.write_text("0123456789\n")
    (b.rootfs / "etc" / "conformance-file").write_text("x\n")
    b.add_mount("/etc/conformance-file", "bind", str(src), ["bind"])
    out = ctx.probe(b, ["read", "/etc/conformance-file"])
    expect_eq(out.need("read./etc/conformance-file"), "OK 11", "reading the bind-mounted file")


@check("config.md#mounts", "mounts are applied in the listed order")
def mount_order(ctx: Ctx) -> None:
    b = ctx.bundle()
    b.add_mount("/mnt", "tmpfs", "tmpfs", ["size=1m"])
    b.add_mount("/mnt", "tmpfs", "tmpfs", ["size=2m"])
    out = ctx.probe(b, MI)
    m = mount_at(out, "/mnt")
    expect("size=2048k" in m["super"], f"topmost /mnt mount is not the last listed: {sorted(m['super'])}")


@check("config.md#mounts", "a mount nested in an earlier mount is placed inside it")
def mount_nested(ctx: Ctx) -> None:
    b = ctx.bundle()
    src = ctx.host_dir("bind-src")
    (src / "data").write_text("bound!\n")
    b.add_mount("/mnt", "tmpfs", "tmpfs", ["size=1m"])
    b.add_mount("/mnt/inner", "bind", str(src), ["bind"])
    out = ctx.probe(b, ["read", "/mnt/inner/data"], MI)
    mount_at(out, "/mnt/inner")
    expect_eq(out.need("read./mnt/inner/data"), "OK 7", "reading through the nested bind mount")


@check("config-linux.md#default-filesystems", "/proc, /sys, /dev/pts and /dev/shm are proc, sysfs, devpts and tmpfs")
def default_filesystems(ctx: Ctx) -> None:
    b = ctx.bundle()
    out = ctx.probe(b, MI)
    for target, fstype in (("/proc", "proc"), ("/sys", "sysfs"), ("/dev/pts", "devpts"), ("/dev/shm", "tmpfs")):
        expect_eq(mount_at(out, target)["fstype"], fstype, f"filesystem type at {target}")


@check("runtime-linux.md#dev-symbolic-links", "/dev/fd, /dev/stdin, /dev/stdout and /dev/stderr symlinks")
def dev_symlinks(ctx: Ctx) -> None:
    b = ctx.bundle()
    want = {"/dev/fd": "/proc/self/fd", "/dev/stdin": "/proc/self/fd/0",
            "/dev/stdout": "/proc/self/fd/1", "/dev/stderr": "/proc/self/fd/2"}
    out = ctx.probe(b, *[["lstat", p] for p in want])
    for path, target in want.items():
        expect(out.need(f"lstat.{path}").startswith("type=l "), f"{path} is not a symlink: {out[f'lstat.{path}']}")
        expect_eq(out.need(f"readlink.{path}"), target, f"target of {path}")


@check("config-linux.md#masked-paths", "a masked file cannot be read")
def masked_file(ctx: Ctx) -> None:
    b = ctx.bundle()
    (b.rootfs / "secret-file").write_text("top secret\n")
    b.linux["maskedPaths"] = ["/secret-file", "/proc/kcore"]
    out = ctx.probe(b, ["read", "/secret-file"], ["read", "/proc/kcore"])
    for p in ("/secret-file", "/proc/kcore"):
        r = out.need(f"read.{p}")
        expect(r == "OK 0" or r.startswith("ERR"), f"{p} is readable: {r}")


@check("config-linux.md#masked-paths", "a masked directory shows none of its contents")
def masked_dir(ctx: Ctx) -> None:
    b = ctx.bundle()
    (b.rootfs / "secret-dir").mkdir()
    (b.rootfs / "secret-dir" / "file").write_text("top secret\n")
    b.linux["maskedPaths"] = ["/secret-dir"]
    out = ctx.probe(b, ["list", "/secret-dir"], ["read", "/secret-dir/file"])
    lst = out.need("list./secret-dir")
    expect(lst == "" or lst.startswith("ERR"), f"masked directory lists {lst!r}")
    expect(out.need("read./secret-dir/file").startswith("ERR"), "file in masked directory is readable")


@check("config-linux.md#readonly-paths", "a read-only directory rejects writes but stays readable")
def readonly_dir(ctx: Ctx) -> None:
    b = ctx.bundle()
    (b.rootfs / "ro-dir").mkdir()
    (b.rootfs / "ro-dir" / "file").write_text("readable\n")
    b.linux["readonlyPaths"] = ["/ro-dir", "/proc/sys"]
    out = ctx.probe(b, ["create", "/ro-dir"], ["read", "/ro-dir/file"],
                    ["open", "/proc/sys/kernel/domainname", "w"], ["create", "/tmp"])
    expect_eq(out.need("create./ro-dir"), "ERR EROFS", "creating a file in the read-only dir")
    expect_eq(out.need("read./ro-dir/file"), "OK 9", "reading a file in the read-only dir")
    expect_eq(out.need("open.w./proc/sys/kernel/domainname"), "ERR EROFS", "opening /proc/sys file for write")
    expect_eq(out.need("create./tmp"), "OK", "creating a file outside the read-only paths")


@check("config-linux.md#readonly-paths", "a read-only file rejects writes")
def readonly_file(ctx: Ctx) -> None:
    b = ctx.bundle()
    (b.rootfs / "ro-file").write_text("readable\n")
    b.linux["readonlyPaths"] = ["/ro-file"]
    out = ctx.probe(b, ["open", "/ro-file", "w"], ["read", "/ro-file"])
    expect_eq(out.need("open.w./ro-file"), "ERR EROFS", "opening the read-only file for write")
    expect_eq(out.need("read./ro-file"), "OK 9", "reading the read-only file")
