"""The -ENOSYS prologue prepended to compiled seccomp programs.

Problem (the one runc's libcontainer/seccomp/patchbpf solves): a profile with a
deny-by-default action (ERRNO/EPERM, KILL, ...) also denies syscalls that are
newer than the profile. glibc and friends probe new syscalls (clone3,
faccessat2, close_range, ...) and only fall back to the old ones on ENOSYS, so
EPERM breaks them.

What we do (same rule as runc): for each architecture in the filter, find the
highest syscall number the profile names that libseccomp knows; a syscall with
a larger number gets -ENOSYS ("the profile predates it") instead of the
default action. Everything else falls through to the libseccomp program
unchanged. On x86_64 the x32 ABI (bit 30 of the number) has its own limit; on
s390/s390x syscall 0 (the multiplexer unknown numbers end up as) gets -ENOSYS.
The prologue is skipped when the default action already allows (ALLOW, LOG,
TRACE) or already returns ENOSYS.

Limitations (also runc's): syscalls added out of order in the table (below the
profile's maximum) still get the default action; the arch check uses the
AUDIT_ARCH value the kernel reports, so unknown architectures fall through to
libseccomp's bad-arch action.

Instructions are emitted with conditional jumps that skip at most one
instruction plus unconditional `ja` (32-bit offsets), so program size never
hits the 8-bit jump limit.
"""
from __future__ import annotations

import struct

# struct sock_filter { __u16 code; __u8 jt; __u8 jf; __u32 k; } in host order.
INSN = struct.Struct("=HBBI")

BPF_LD_W_ABS = 0x20
BPF_JMP_JA = 0x05
BPF_JMP_JEQ_K = 0x15
BPF_JMP_JGT_K = 0x25
BPF_JMP_JSET_K = 0x45
BPF_RET_K = 0x06

SECCOMP_RET_ERRNO = 0x00050000
ENOSYS = 38
RET_ENOSYS = SECCOMP_RET_ERRNO | ENOSYS

OFFSET_NR = 0  # struct seccomp_data.nr
OFFSET_ARCH = 4  # struct seccomp_data.arch

AUDIT_ARCH_X86_64 = 0xC000003E
AUDIT_ARCH_S390 = 0x00000016
AUDIT_ARCH_S390X = 0x80000016
X32_SYSCALL_BIT = 0x40000000


class _Asm:
    """Tiny assembler with forward labels for `ja`."""

    def __init__(self) -> None:
        self.insns: list[list[int | str]] = []  # [code, jt, jf, k-or-label]
        self.labels: dict[str, int] = {}

    def emit(self, code: int, jt: int = 0, jf: int = 0, k: int | str = 0) -> None:
        self.insns.append([code, jt, jf, k])

    def ja(self, label: str) -> None:
        self.emit(BPF_JMP_JA, 0, 0, label)

    def label(self, name: str) -> None:
        self.labels[name] = len(self.insns)

    def assemble(self) -> bytes:
        out = bytearray()
        for idx, (code, jt, jf, k) in enumerate(self.insns):
            if isinstance(k, str):
                k = self.labels[k] - (idx + 1)
            out += INSN.pack(code, jt, jf, k & 0xFFFFFFFF)
        return bytes(out)


def _check_max(asm: _Asm, maximum: int | None) -> None:
    """nr > maximum -> -ENOSYS, else into the filter."""
    if maximum is not None:
        asm.emit(BPF_JMP_JGT_K, 0, 1, maximum & 0xFFFFFFFF)
        asm.emit(BPF_RET_K, 0, 0, RET_ENOSYS)
    asm.ja("filter")


def enosys_stub(limits: dict[int, dict[str, int]]) -> bytes:
    """Prologue for `limits`: AUDIT_ARCH value -> {"native"|"x32": highest nr}.

    Returns b"" when there is nothing to check."""
    groups = {arch: lim for arch, lim in limits.items() if lim}
    if not groups:
        return b""
    asm = _Asm()
    asm.emit(BPF_LD_W_ABS, 0, 0, OFFSET_ARCH)
    for n, (arch, lim) in enumerate(sorted(groups.items())):
        nxt = f"next{n}"
        asm.emit(BPF_JMP_JEQ_K, 1, 0, arch)  # equal: skip the ja below
        asm.ja(nxt)
        asm.emit(BPF_LD_W_ABS, 0, 0, OFFSET_NR)
        if arch in (AUDIT_ARCH_S390, AUDIT_ARCH_S390X):
            asm.emit(BPF_JMP_JEQ_K, 0, 1, 0)
            asm.emit(BPF_RET_K, 0, 0, RET_ENOSYS)
        if arch == AUDIT_ARCH_X86_64:
            x32 = f"x32_{n}"
            asm.emit(BPF_JMP_JSET_K, 0, 1, X32_SYSCALL_BIT)  # set: take the ja
            asm.ja(x32)
            _check_max(asm, lim.get("native"))
            asm.label(x32)
            _check_max(asm, lim.get("x32"))
        else:
            _check_max(asm, lim.get("native"))
        asm.label(nxt)
    asm.label("filter")
    return asm.assemble()


def disassemble(bpf: bytes) -> list[tuple[int, int, int, int]]:
    """(code, jt, jf, k) tuples of a raw program (for tests and debugging)."""
    return [INSN.unpack_from(bpf, off) for off in range(0, len(bpf), INSN.size)]
