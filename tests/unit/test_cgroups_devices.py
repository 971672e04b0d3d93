"""Device rules: runc's defaults, the v1 emulator and the eBPF encoding."""
from __future__ import annotations

import struct

import pytest

from pyrunc.cgroups import ebpf
from pyrunc.cgroups.devices import DEFAULT_DEVICES, Rule, check, emulate, rule_from_spec, rules_for
from pyrunc.errors import ConfigError

DENY_ALL = {"allow": False, "access": "rwm"}


def test_defaults_follow_spec_rules() -> None:
    rules = rules_for([DENY_ALL, {"allow": True, "type": "c", "major": 1, "minor": 11, "access": "r"}])
    assert rules[0] == Rule("a", -1, -1, "rwm", False)
    assert rules[1] == Rule("c", 1, 11, "r", True)
    assert rules[2:] == [r for _, r in DEFAULT_DEVICES]


def test_linux_devices_path_replaces_default() -> None:
    rules = rules_for([DENY_ALL], ["/dev/null"])
    assert Rule("c", 1, 3, "rwm", True) not in rules
    assert Rule("c", 1, 5, "rwm", True) in rules


def test_spec_rule_validation() -> None:
    with pytest.raises(ConfigError, match=r"devices\[0\].access"):
        rule_from_spec({"allow": True, "access": ""}, 0)
    with pytest.raises(ConfigError, match=r"devices\[2\].type"):
        rule_from_spec({"allow": True, "type": "x", "access": "r"}, 2)
    assert rule_from_spec({"allow": True, "type": "b", "major": 8, "access": "wr"}, 0) == Rule("b", 8, -1, "rw", True)


def test_emulator_whitelist() -> None:
    em = emulate(rules_for([DENY_ALL]))
    assert em.default_allow is False
    assert check(em, "c", 1, 3, "rw")  # /dev/null
    assert check(em, "c", 136, 7, "rwm")  # a pty
    assert not check(em, "c", 1, 11, "r")  # /dev/kmsg
    assert check(em, "c", 1, 11, "m")  # mknod of any char device
    assert not check(em, "b", 254, 0, "r")
    assert check(em, "b", 254, 0, "m")


def test_emulator_blacklist_and_partial_revoke() -> None:
    em = emulate([Rule("a", -1, -1, "rwm", True), Rule("c", 1, 3, "rwm", False), Rule("c", 1, 3, "m", True)])
    assert em.default_allow is True
    assert em.exceptions == [Rule("c", 1, 3, "rw", False)]
    em = emulate([Rule("a", -1, -1, "rwm", False), Rule("c", 4, 1, "rwm", True), Rule("c", 4, 1, "w", False)])
    assert em.exceptions == [Rule("c", 4, 1, "rm", True)]
    assert check(em, "c", 4, 1, "r") and not check(em, "c", 4, 1, "w")


def test_wildcard_resets_previous_rules() -> None:
    em = emulate([Rule("c", 1, 3, "rwm", True), Rule("a", -1, -1, "rwm", True)])
    assert em.default_allow is True and em.exceptions == []


def test_v1_strings() -> None:
    assert Rule("a", -1, -1, "rwm", True).v1_string() == "a"
    assert Rule("c", 136, -1, "rwm", True).v1_string() == "c 136:* rwm"
    assert Rule("b", -1, -1, "m", True).v1_string() == "b *:* m"


def _run(prog: bytes, dtype: int, access: int, major: int, minor: int) -> int:
    """A tiny interpreter for the instructions build_program emits, to check
    the encoding independently of the kernel (the kernel test is in
    tests/integration/test_cgroups_manager.py)."""
    insns = [struct.unpack("<BBhi", prog[i : i + 8]) for i in range(0, len(prog), 8)]
    reg = [0] * 11
    mem = struct.pack("<III", (access << 16) | dtype, major, minor)
    pc = 0
    while True:
        code, regs, off, imm = insns[pc]
        dst, src = regs & 0xF, regs >> 4
        pc += 1
        if code == 0x61:
            reg[dst] = struct.unpack_from("<I", mem, reg[src] + off)[0]
        elif code == 0x54:
            reg[dst] = (reg[dst] & imm) & 0xFFFFFFFF
        elif code == 0x74:
            reg[dst] = (reg[dst] & 0xFFFFFFFF) >> imm
        elif code == 0xBC:
            reg[dst] = reg[src] & 0xFFFFFFFF
        elif code == 0xB7:
            reg[dst] = imm
        elif code == 0x55:
            if reg[dst] != imm:
                pc += off
        elif code == 0x5D:
            if reg[dst] != reg[src]:
                pc += off
        elif code == 0x95:
            return reg[0]
        else:
            raise AssertionError(f"unknown opcode {code:#x}")


@pytest.mark.parametrize(
    "rules",
    [
        rules_for([DENY_ALL]),
        rules_for([DENY_ALL, {"allow": True, "type": "b", "major": 254, "minor": 0, "access": "r"}]),
        [Rule("a", -1, -1, "rwm", True), Rule("c", 1, 11, "rw", False), Rule("b", 7, -1, "rwm", False)],
    ],
)
def test_bpf_program_matches_emulator(rules: list[Rule]) -> None:
    em = emulate(rules)
    prog = ebpf.build_program(em)
    letters = {"m": 1, "r": 2, "w": 4}
    for dtype_s, dtype in (("c", 2), ("b", 1)):
        for major, minor in ((1, 3), (1, 11), (5, 2), (136, 4), (254, 0), (7, 3), (10, 200)):
            for acc in ("r", "w", "m", "rw", "rwm"):
                bits = sum(letters[c] for c in acc)
                got = _run(prog, dtype, bits, major, minor)
                assert got == int(check(em, dtype_s, major, minor, acc)), (dtype_s, major, minor, acc)
