"""Device cgroup rules: parsing linux.resources.devices, runc's default
allowed devices, and an emulator of the v1 devices controller that reduces a
rule list to (default policy, exceptions) -- used for v1 writes and to build
the v2 eBPF program, so both versions enforce exactly the same thing."""
from __future__ import annotations

from pyrunc.errors import ConfigError

WILDCARD = -1


# plain classes: dataclasses costs ~6 ms to import on every create
class Rule:
    __slots__ = ("type", "major", "minor", "access", "allow")

    def __init__(self, type: str, major: int, minor: int, access: str, allow: bool) -> None:
        self.type = type  # "a" | "b" | "c"
        self.major = major  # -1 = wildcard
        self.minor = minor  # -1 = wildcard
        self.access = access  # subset of "rwm"
        self.allow = allow

    def __eq__(self, other: object) -> bool:
        # tests compare rules (==, `in` a rule list)
        if other.__class__ is not self.__class__:
            return NotImplemented
        return (self.type, self.major, self.minor, self.access, self.allow) == (
            other.type, other.major, other.minor, other.access, other.allow)

    def v1_string(self) -> str:
        if self.type == "a":
            return "a"
        mj = "*" if self.major == WILDCARD else str(self.major)
        mn = "*" if self.minor == WILDCARD else str(self.minor)
        return f"{self.type} {mj}:{mn} {self.access}"


def _norm_access(acc: str, field: str) -> str:
    if not acc or any(c not in "rwm" for c in acc):
        raise ConfigError(field, f"invalid device access {acc!r}")
    return "".join(c for c in "rwm" if c in acc)


def rule_from_spec(d: dict, i: int) -> Rule:
    field = f"linux.resources.devices[{i}]"
    t = d.get("type") or "a"
    if t not in ("a", "b", "c"):
        raise ConfigError(field + ".type", f"invalid cgroup device type {t!r}")
    acc = d.get("access")
    if not acc:
        raise ConfigError(field + ".access", "device access cannot be empty")
    major = d.get("major")
    minor = d.get("minor")
    return Rule(
        type=t,
        major=WILDCARD if major is None else int(major),
        minor=WILDCARD if minor is None else int(minor),
        access=_norm_access(acc, field + ".access"),
        allow=bool(d.get("allow", False)),
    )


# runc's AllowedDevices (libcontainer/specconv), with the device node path
# used to drop a default when linux.devices provides the same path.
DEFAULT_DEVICES: list[tuple[str | None, Rule]] = [
    (None, Rule("c", WILDCARD, WILDCARD, "m", True)),
    (None, Rule("b", WILDCARD, WILDCARD, "m", True)),
    ("/dev/null", Rule("c", 1, 3, "rwm", True)),
    ("/dev/random", Rule("c", 1, 8, "rwm", True)),
    ("/dev/full", Rule("c", 1, 7, "rwm", True)),
    ("/dev/tty", Rule("c", 5, 0, "rwm", True)),
    ("/dev/zero", Rule("c", 1, 5, "rwm", True)),
    ("/dev/urandom", Rule("c", 1, 9, "rwm", True)),
    (None, Rule("c", 136, WILDCARD, "rwm", True)),  # /dev/pts/*
    (None, Rule("c", 5, 2, "rwm", True)),  # /dev/ptmx
    (None, Rule("c", 10, 200, "rwm", True)),  # /dev/net/tun (runc 1.1, re-added in 1.2.1)
]


def rules_for(resources_devices: list[dict] | None, spec_device_paths: list[str] | None = None) -> list[Rule]:
    """The full ordered rule list: the spec's rules, then runc's defaults."""
    rules = [rule_from_spec(d, i) for i, d in enumerate(resources_devices or [])]
    skip = set(spec_device_paths or [])
    for path, rule in DEFAULT_DEVICES:
        if path is not None and path in skip:
            continue
        rules.append(rule)
    return rules


class Emulated:
    __slots__ = ("default_allow", "exceptions")

    def __init__(self, default_allow: bool, exceptions: list[Rule]) -> None:
        self.default_allow = default_allow
        self.exceptions = exceptions  # all with allow == (not default_allow)


def emulate(rules: list[Rule]) -> Emulated:
    """Apply rules in order with the v1 kernel semantics (default: deny all).

    A wildcard "a" rule resets the policy; other rules add an exception when
    their polarity differs from the default, or remove access from the
    matching exception (exact type/major/minor) when it is the same."""
    default_allow = False
    exc: dict[tuple[str, int, int], str] = {}
    order: list[tuple[str, int, int]] = []
    for r in rules:
        if r.type == "a":
            default_allow = r.allow
            exc.clear()
            order.clear()
            continue
        key = (r.type, r.major, r.minor)
        if r.allow != default_allow:
            cur = exc.get(key, "")
            if key not in exc:
                order.append(key)
            exc[key] = "".join(c for c in "rwm" if c in cur or c in r.access)
        elif key in exc:
            left = "".join(c for c in exc[key] if c not in r.access)
            if left:
                exc[key] = left
            else:
                del exc[key]
                order.remove(key)
    return Emulated(
        default_allow=default_allow,
        exceptions=[Rule(k[0], k[1], k[2], exc[k], not default_allow) for k in order],
    )


def check(em: Emulated, dtype: str, major: int, minor: int, access: str) -> bool:
    """Would the emulated policy allow this access (subset semantics, as the
    eBPF program decides)? Used by tests."""
    for r in em.exceptions:
        if r.type != dtype:
            continue
        if r.major not in (WILDCARD, major) or r.minor not in (WILDCARD, minor):
            continue
        if all(c in r.access for c in access):
            return r.allow
    return em.default_allow
