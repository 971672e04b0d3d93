"""config-linux.md#devices, #default-devices and #allowed-device-list."""
from __future__ import annotations

from typing import Any

from ..bundle import Bundle
from ..harness import Ctx, check, expect, expect_eq

DEFAULT = {"/dev/null": (1, 3), "/dev/zero": (1, 5), "/dev/full": (1, 7), "/dev/random": (1, 8),
           "/dev/urandom": (1, 9), "/dev/tty": (5, 0)}


def _stat(out: dict[str, str], key: str) -> dict[str, str]:
    v = out.get(key, "")
    if v.startswith("ERR") or not v:
        return {"error": v or "missing"}
    return dict(kv.split("=", 1) for kv in v.split())


@check("config-linux.md#default-devices", "/dev/null, zero, full, random, urandom and tty exist as the right char devices")
def default_devices(ctx: Ctx) -> None:
    b = ctx.bundle()
    out = ctx.probe(b, *[["stat", p] for p in DEFAULT])
    for path, (ma, mi) in DEFAULT.items():
        st = _stat(out, f"stat.{path}")
        expect(st.get("type") == "c", f"{path} is not a char device: {out.get(f'stat.{path}')}")
        expect_eq((int(st["major"]), int(st["minor"])), (ma, mi), f"{path} major:minor")


@check("config-linux.md#default-devices", "default devices work: null swallows, zero and urandom read, full is full")
def default_devices_usable(ctx: Ctx) -> None:
    b = ctx.bundle()
    out = ctx.probe(b, ["write", "/dev/null", "x"], ["read", "/dev/zero"], ["read", "/dev/urandom"],
                    ["read", "/dev/random"], ["write", "/dev/full", "x"], ["read", "/dev/null"])
    expect_eq(out.need("write./dev/null"), "OK 1", "writing /dev/null")
    expect_eq(out.need("read./dev/zero"), "OK 4096", "reading /dev/zero")
    expect_eq(out.need("read./dev/urandom"), "OK 4096", "reading /dev/urandom")
    expect(out.need("read./dev/random").startswith("OK"), f"reading /dev/random: {out['read./dev/random']}")
    expect_eq(out.need("write./dev/full"), "ERR ENOSPC", "writing /dev/full")
    expect_eq(out.need("read./dev/null"), "OK 0", "reading /dev/null")


@check("config-linux.md#default-devices", "/dev/ptmx is a bind mount or symlink of /dev/pts/ptmx")
def dev_ptmx(ctx: Ctx) -> None:
    b = ctx.bundle()
    out = ctx.probe(b, ["lstat", "/dev/ptmx"], ["stat", "/dev/ptmx"], ["stat", "/dev/pts/ptmx"])
    link = out.get("readlink./dev/ptmx")
    if link is not None:
        expect(link in ("pts/ptmx", "/dev/pts/ptmx"), f"/dev/ptmx points at {link!r}")
        return
    a, p = _stat(out, "stat./dev/ptmx"), _stat(out, "stat./dev/pts/ptmx")
    expect("error" not in a and "error" not in p, f"stat failed: {a} {p}")
    expect_eq((a["dev"], a["ino"]), (p["dev"], p["ino"]), "(dev, ino) of /dev/ptmx vs /dev/pts/ptmx")


@check("config-linux.md#devices", "a listed char device is created with its type, numbers, fileMode, uid and gid")
def device_char(ctx: Ctx) -> None:
    b = ctx.bundle()
    b.linux["devices"] = [{"path": "/dev/conformance-null", "type": "c", "major": 1, "minor": 3,
                           "fileMode": 0o640, "uid": 1234, "gid": 2345}]
    out = ctx.probe(b, ["stat", "/dev/conformance-null"], ["write", "/dev/conformance-null", "x"])
    st = _stat(out, "stat./dev/conformance-null")
    expect(st.get("type") == "c", f"not a char device: {out.get('stat./dev/conformance-null')}")
    expect_eq((st["major"], st["minor"], st["mode"], st["uid"], st["gid"]), ("1", "3", "0640", "1234", "2345"),
              "(major, minor, mode, uid, gid)")
    expect_eq(out.need("write./dev/conformance-null"), "OK 1", "writing the device")


@check("config-linux.md#devices", "devices may live outside /dev; block and fifo types are created")
def device_outside_dev(ctx: Ctx) -> None:
    b = ctx.bundle()
    b.linux["devices"] = [
        {"path": "/devices/nested/blk", "type": "b", "major": 7, "minor": 0, "fileMode": 0o600},
        {"path": "/devices/fifo", "type": "p", "fileMode": 0o600},
    ]
    out = ctx.probe(b, ["stat", "/devices/nested/blk"], ["stat", "/devices/fifo"])
    blk, fifo = _stat(out, "stat./devices/nested/blk"), _stat(out, "stat./devices/fifo")
    expect_eq((blk.get("type"), blk.get("major"), blk.get("minor")), ("b", "7", "0"), "block device")
    expect_eq(fifo.get("type"), "p", "fifo type")


@check("config-linux.md#devices", "a file already at a device path that does not match is an error")
def device_conflict(ctx: Ctx) -> None:
    b = ctx.bundle()
    (b.rootfs / "devices").mkdir()
    (b.rootfs / "devices" / "occupied").write_text("regular file\n")
    b.linux["devices"] = [{"path": "/devices/occupied", "type": "c", "major": 1, "minor": 3}]
    ctx.expect_create_error(b, "a regular file exists at the device path")


def _kmsg_bundle(ctx: Ctx, rules: list[dict[str, Any]]) -> Bundle:
    b = ctx.bundle()
    b.linux["devices"] = [{"path": "/dev/conformance-kmsg", "type": "c", "major": 1, "minor": 11,
                           "fileMode": 0o600}]
    b.linux["resources"]["devices"] = rules
    return b


@check("config-linux.md#allowed-device-list", "an allow rule grants access to a device")
def devcg_allow(ctx: Ctx) -> None:
    b = _kmsg_bundle(ctx, [{"allow": False, "access": "rwm"},
                           {"allow": True, "type": "c", "major": 1, "minor": 11, "access": "w"}])
    out = ctx.probe(b, ["open", "/dev/conformance-kmsg", "w"])
    expect_eq(out.need("open.w./dev/conformance-kmsg"), "OK", "opening c 1:11 for write")


@check("config-linux.md#allowed-device-list", "entries apply in order: a later deny overrides an earlier allow")
def devcg_order(ctx: Ctx) -> None:
    b = _kmsg_bundle(ctx, [{"allow": False, "access": "rwm"},
                           {"allow": True, "type": "c", "major": 1, "minor": 11, "access": "w"},
                           {"allow": False, "type": "c", "major": 1, "minor": 11, "access": "w"}])
    out = ctx.probe(b, ["open", "/dev/conformance-kmsg", "w"], ["write", "/dev/null", "x"])
    expect_eq(out.need("open.w./dev/conformance-kmsg"), "ERR EPERM", "opening c 1:11 for write")
    expect_eq(out.need("write./dev/null"), "OK 1", "default device /dev/null still usable")


@check("config-linux.md#allowed-device-list", "access letters are honoured: read denied where only w is allowed")
def devcg_access(ctx: Ctx) -> None:
    b = _kmsg_bundle(ctx, [{"allow": False, "access": "rwm"},
                           {"allow": True, "type": "c", "major": 1, "minor": 11, "access": "w"}])
    out = ctx.probe(b, ["open", "/dev/conformance-kmsg", "r"])
    expect_eq(out.need("open.r./dev/conformance-kmsg"), "ERR EPERM", "opening c 1:11 for read")
