"""pyrunc.linux.capabilities: name table, masks, kernel-missing caps, ambient rule."""
from __future__ import annotations

import re

import pytest

from pyrunc.errors import ConfigError
from pyrunc.linux import capabilities as caps


def _header_caps() -> dict[str, int]:
    with open("/usr/include/linux/capability.h") as f:
        return {m.group(1): int(m.group(2)) for m in re.finditer(r"#define (CAP_[A-Z_]+)\s+(\d+)\b", f.read())}


def test_table_matches_kernel_header() -> None:
    header = {k: v for k, v in _header_caps().items() if k != "CAP_LAST_CAP"}
    for name, num in header.items():
        if num <= 40:
            assert caps.CAPABILITIES[name] == num
    assert caps.CAPABILITIES["CAP_CHECKPOINT_RESTORE"] == 40
    assert len(caps.CAPABILITIES) == 41
    assert sorted(caps.CAPABILITIES.values()) == list(range(41))


def test_last_cap_reads_proc() -> None:
    with open("/proc/sys/kernel/cap_last_cap") as f:
        assert caps.last_cap() == int(f.read())


def test_caps_to_mask_and_back() -> None:
    mask = caps.caps_to_mask(["CAP_CHOWN", "CAP_KILL", "CAP_SYS_ADMIN", "CAP_KILL"], "process.capabilities.bounding")
    assert mask == (1 << 0) | (1 << 5) | (1 << 21)
    assert caps.mask_to_names(mask) == ["CAP_CHOWN", "CAP_KILL", "CAP_SYS_ADMIN"]
    assert caps.caps_to_mask([], "f") == 0
    assert caps.caps_to_mask(None, "f") == 0
    assert caps.mask_to_names(1 << 50) == ["CAP_50"]


def test_unknown_name_names_the_entry() -> None:
    with pytest.raises(ConfigError) as e:
        caps.caps_to_mask(["CAP_CHOWN", "CAP_FLY"], "process.capabilities.effective")
    assert e.value.field == "process.capabilities.effective[1]"
    assert "CAP_FLY" in str(e.value)
    with pytest.raises(ConfigError):
        caps.caps_to_mask(["cap_chown"], "f")
    with pytest.raises(ConfigError):
        caps.caps_to_mask("CAP_CHOWN", "f")  # type: ignore[arg-type]


def test_caps_missing_from_kernel_are_dropped_with_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(caps, "_last_cap", 37)  # pretend an older kernel (no PERFMON/BPF/CHECKPOINT_RESTORE)
    warnings: list[str] = []
    mask = caps.caps_to_mask(["CAP_CHOWN", "CAP_BPF", "CAP_PERFMON"], "process.capabilities.bounding", warnings.append)
    assert mask == 1
    assert len(warnings) == 1
    assert "CAP_BPF" in warnings[0] and "CAP_PERFMON" in warnings[0]
    assert "process.capabilities.bounding" in warnings[0]


def test_all_caps_mask_follows_kernel() -> None:
    assert caps.all_caps_mask() == (1 << (min(caps.last_cap(), 40) + 1)) - 1


def test_resolve_capabilities_sets() -> None:
    cfg = {
        "bounding": ["CAP_CHOWN", "CAP_NET_RAW"],
        "effective": ["CAP_CHOWN"],
        "permitted": ["CAP_CHOWN", "CAP_NET_RAW"],
        "inheritable": ["CAP_NET_RAW"],
        "ambient": ["CAP_NET_RAW"],
    }
    sets = caps.resolve_capabilities(cfg)
    assert sets.bounding == 1 | 1 << 13
    assert sets.effective == 1
    assert sets.inheritable == sets.ambient == 1 << 13
    assert caps.resolve_capabilities(None) == caps.CapSets()
    assert caps.resolve_capabilities({"bounding": ["CAP_KILL"]}).permitted == 0


def test_ambient_outside_permitted_and_inheritable_is_dropped_with_a_warning() -> None:
    """runc warns and runs without them (runc 1.1's `runc spec` config has
    ambient caps and no inheritable set)."""
    said: list[str] = []
    sets = caps.resolve_capabilities({"permitted": ["CAP_KILL"], "inheritable": ["CAP_KILL", "CAP_CHOWN"],
                                      "ambient": ["CAP_KILL", "CAP_CHOWN"]}, warn=said.append)
    assert sets.ambient == 1 << 5  # CAP_KILL stays, CAP_CHOWN (not permitted) goes
    assert len(said) == 1 and "CAP_CHOWN" in said[0] and "process.capabilities.ambient" in said[0]
    assert caps.resolve_capabilities({"inheritable": ["CAP_KILL"], "ambient": ["CAP_CHOWN"]}).ambient == 0


def test_unknown_set_name() -> None:
    with pytest.raises(ConfigError) as e:
        caps.resolve_capabilities({"bonding": ["CAP_KILL"]})
    assert e.value.field == "process.capabilities.bonding"
