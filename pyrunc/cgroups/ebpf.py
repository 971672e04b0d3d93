"""cgroup v2 device control: build a BPF_PROG_TYPE_CGROUP_DEVICE program from
emulated device rules and attach it to a cgroup with bpf(2) (via ctypes)."""
from __future__ import annotations

import ctypes
import os
import platform
import struct

from pyrunc.cgroups.devices import WILDCARD, Emulated
from pyrunc.errors import CgroupError

# bpf(2) commands, program/attach types and flags (uapi/linux/bpf.h).
BPF_PROG_LOAD = 5
BPF_PROG_ATTACH = 8
BPF_PROG_DETACH = 9
BPF_PROG_GET_FD_BY_ID = 13
BPF_PROG_QUERY = 16
BPF_PROG_TYPE_CGROUP_DEVICE = 15
BPF_CGROUP_DEVICE = 6
BPF_F_ALLOW_MULTI = 2

BPF_DEVCG_ACC_MKNOD, BPF_DEVCG_ACC_READ, BPF_DEVCG_ACC_WRITE = 1, 2, 4
BPF_DEVCG_DEV_BLOCK, BPF_DEVCG_DEV_CHAR = 1, 2

_SYS_BPF = {"x86_64": 321, "aarch64": 280, "ppc64le": 361, "s390x": 351, "riscv64": 280}

# Instruction opcodes used.
_LDXW = 0x61  # r_dst = *(u32 *)(r_src + off)
_AND32_K = 0x54
_RSH32_K = 0x74
_MOV32_X = 0xBC
_MOV64_K = 0xB7
_JNE_K = 0x55
_JNE_X = 0x5D
_EXIT = 0x95


def _insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    return struct.pack("<BBhi", code, (dst & 0xF) | ((src & 0xF) << 4), off, imm)


def _access_bits(access: str) -> int:
    bits = 0
    if "m" in access:
        bits |= BPF_DEVCG_ACC_MKNOD
    if "r" in access:
        bits |= BPF_DEVCG_ACC_READ
    if "w" in access:
        bits |= BPF_DEVCG_ACC_WRITE
    return bits


def build_program(em: Emulated) -> bytes:
    """The program: load type (r2), access (r3), major (r4), minor (r5); one
    block per exception returning its verdict; then the default verdict."""
    prog = [
        _insn(_LDXW, 2, 1, 0),
        _insn(_AND32_K, 2, imm=0xFFFF),
        _insn(_LDXW, 3, 1, 0),
        _insn(_RSH32_K, 3, imm=16),
        _insn(_LDXW, 4, 1, 4),
        _insn(_LDXW, 5, 1, 8),
    ]
    for r in em.exceptions:
        block: list[tuple[int, int, int, int]] = []  # (code, dst, src, imm); off filled below
        if r.type in ("b", "c"):
            block.append((_JNE_K, 2, 0, BPF_DEVCG_DEV_BLOCK if r.type == "b" else BPF_DEVCG_DEV_CHAR))
        bits = _access_bits(r.access)
        if bits != 7:
            # if (access & bits) != access: not covered by this rule
            block.append((_MOV32_X, 1, 3, 0))
            block.append((_AND32_K, 1, 0, bits))
            block.append((_JNE_X, 1, 3, 0))
        if r.major != WILDCARD:
            block.append((_JNE_K, 4, 0, r.major))
        if r.minor != WILDCARD:
            block.append((_JNE_K, 5, 0, r.minor))
        n = len(block) + 2  # + mov r0 + exit
        for i, (code, dst, src, imm) in enumerate(block):
            is_jump = code in (_JNE_K, _JNE_X)
            prog.append(_insn(code, dst, src, (n - i - 1) if is_jump else 0, imm))
        prog.append(_insn(_MOV64_K, 0, imm=1 if r.allow else 0))
        prog.append(_insn(_EXIT))
    prog.append(_insn(_MOV64_K, 0, imm=1 if em.default_allow else 0))
    prog.append(_insn(_EXIT))
    return b"".join(prog)


_libc = None


def _bpf(cmd: int, attr: ctypes.Array, what: str) -> int:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    nr = _SYS_BPF.get(platform.machine())
    if nr is None:
        raise CgroupError("bpf", f"unsupported architecture {platform.machine()}")
    ret = _libc.syscall(ctypes.c_long(nr), ctypes.c_int(cmd), attr, ctypes.c_uint(ctypes.sizeof(attr)))
    if ret < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"bpf({what}): {os.strerror(err)}")
    return ret


def load_program(insns: bytes) -> int:
    buf = ctypes.create_string_buffer(insns, len(insns))
    lic = ctypes.create_string_buffer(b"Apache")
    logbuf = ctypes.create_string_buffer(65536)
    attr = ctypes.create_string_buffer(128)
    struct.pack_into(
        "<IIQQIIQ",
        attr,
        0,
        BPF_PROG_TYPE_CGROUP_DEVICE,
        len(insns) // 8,
        ctypes.addressof(buf),
        ctypes.addressof(lic),
        1,
        len(logbuf),
        ctypes.addressof(logbuf),
    )
    try:
        return _bpf(BPF_PROG_LOAD, attr, "BPF_PROG_LOAD")
    except OSError as e:
        log = logbuf.value.decode(errors="replace").strip().splitlines()
        tail = f" ({log[-1]})" if log else ""
        raise OSError(e.errno, f"{e.strerror}{tail}") from None


def _query(cgfd: int) -> list[int]:
    ids = (ctypes.c_uint32 * 64)()
    attr = ctypes.create_string_buffer(128)
    # target_fd, attach_type, query_flags, attach_flags, prog_ids, prog_cnt
    struct.pack_into("<IIIIQI", attr, 0, cgfd, BPF_CGROUP_DEVICE, 0, 0, ctypes.addressof(ids), 64)
    _bpf(BPF_PROG_QUERY, attr, "BPF_PROG_QUERY")
    cnt = struct.unpack_from("<I", attr, 24)[0]
    return [ids[i] for i in range(min(cnt, 64))]


def _prog_fd(prog_id: int) -> int:
    attr = ctypes.create_string_buffer(128)
    struct.pack_into("<I", attr, 0, prog_id)
    return _bpf(BPF_PROG_GET_FD_BY_ID, attr, "BPF_PROG_GET_FD_BY_ID")


def attach(cgroup_dir: str, em: Emulated) -> None:
    """Load the program for `em`, attach it to cgroup_dir, then detach the
    programs that were attached before (so an update replaces the rules)."""
    try:
        cgfd = os.open(cgroup_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as e:
        raise CgroupError(cgroup_dir, e.strerror or str(e)) from None
    try:
        try:
            old = _query(cgfd)
        except OSError:
            old = []
        try:
            pfd = load_program(build_program(em))
        except OSError as e:
            raise CgroupError(cgroup_dir, f"loading device eBPF program: {e.strerror}") from None
        try:
            attr = ctypes.create_string_buffer(128)
            struct.pack_into("<IIII", attr, 0, cgfd, pfd, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI)
            try:
                _bpf(BPF_PROG_ATTACH, attr, "BPF_PROG_ATTACH")
            except OSError as e:
                raise CgroupError(cgroup_dir, f"attaching device eBPF program: {e.strerror}") from None
        finally:
            os.close(pfd)
        for pid_ in old:
            try:
                ofd = _prog_fd(pid_)
            except OSError:
                continue
            try:
                attr = ctypes.create_string_buffer(128)
                struct.pack_into("<III", attr, 0, cgfd, ofd, BPF_CGROUP_DEVICE)
                try:
                    _bpf(BPF_PROG_DETACH, attr, "BPF_PROG_DETACH")
                except OSError:
                    pass
            finally:
                os.close(ofd)
    finally:
        os.close(cgfd)


def attached_ids(cgroup_dir: str) -> list[int]:
    cgfd = os.open(cgroup_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        return _query(cgfd)
    finally:
        os.close(cgfd)
