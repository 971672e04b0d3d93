"""Rootless containers: detecting an unprivileged caller, and checking a
config's user namespace mappings against what the caller may map before
anything is created.

An unprivileged user may map only its own uid and gid (one id each) by
writing the maps itself; more ranges go through the setuid helpers
newuidmap/newgidmap (Debian's `uidmap`), which allow the ranges delegated to
the user in /etc/subuid and /etc/subgid.  Like runc, a helper is only used
when the mappings need one; then `setgroups` is left allowed (the helpers
check the groups), otherwise it is denied before gid_map is written, as the
kernel requires."""
from __future__ import annotations

import os
from collections import namedtuple

TYPE_CHECKING = False  # `typing` costs ~3 ms of every create; annotations are strings
if TYPE_CHECKING:
    from typing import Any

from pyrunc.errors import ConfigError

SUBUID = "/etc/subuid"
SUBGID = "/etc/subgid"


# detection lives with the other global-flag handling (it runs on every command)
from pyrunc.invocation import detect_rootless as detect, in_initial_user_ns  # noqa: E402,F401


class Range(namedtuple("Range", "start count")):
    """`count` ids from `start` (both ints)."""

    __slots__ = ()

    def covers(self, start: int, size: int) -> bool:
        return self.start <= start and start + size <= self.start + self.count


def _user_name(uid: int) -> str | None:
    try:
        import pwd

        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return None


def _group_name(gid: int) -> str | None:
    try:
        import grp

        return grp.getgrgid(gid).gr_name
    except KeyError:
        return None


def sub_ranges(path: str, owner_id: int, owner_name: str | None) -> list[Range]:
    """Ranges delegated to a user (by name or number) in /etc/subuid or /etc/subgid."""
    out: list[Range] = []
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except OSError:
        return out
    for line in lines:
        parts = line.strip().split(":")
        if len(parts) != 3 or line.startswith("#"):
            continue
        who, start, count = parts
        if who not in (owner_name, str(owner_id)):
            continue
        try:
            out.append(Range(int(start), int(count)))
        except ValueError:
            continue
    return out


def _is_own(maps: list[dict[str, Any]], own: int) -> bool:
    return [(m.get("containerID"), m.get("hostID"), m.get("size")) for m in maps] == [(0, own, 1)]


def needs_mapping_tool(linux: dict[str, Any], euid: int | None = None, egid: int | None = None) -> bool:
    """Whether the mappings need newuidmap/newgidmap (more than the caller's
    own uid and gid mapped to root)."""
    euid = os.geteuid() if euid is None else euid
    egid = os.getegid() if egid is None else egid
    if euid == 0:
        return False  # root (in some user namespace) writes the maps itself
    return not (_is_own(linux.get("uidMappings") or [], euid) and _is_own(linux.get("gidMappings") or [], egid))


def check_mappings(linux: dict[str, Any], euid: int | None = None, egid: int | None = None) -> bool:
    """Refuse, naming the mapping, what an unprivileged caller cannot map;
    returns whether the helpers are needed."""
    euid = os.geteuid() if euid is None else euid
    egid = os.getegid() if egid is None else egid
    if euid == 0:
        return False  # root in a user namespace: rootless cgroups only, as runc
    userns = [ns for ns in linux.get("namespaces") or [] if ns.get("type") == "user"]
    if not userns:
        raise ConfigError("linux.namespaces", "rootless container requires user namespaces "
                          "(make the config with `pyrunc spec --rootless`)")
    if userns[0].get("path"):
        return False
    if not needs_mapping_tool(linux, euid, egid):
        return False
    import shutil

    for kind, own, path, tool, name in (("uidMappings", euid, SUBUID, "newuidmap", _user_name(euid)),
                                        ("gidMappings", egid, SUBGID, "newgidmap", _group_name(egid))):
        maps = linux.get(kind) or []
        if not maps:
            raise ConfigError(f"linux.{kind}", "a rootless container's user namespace needs a mapping")
        if shutil.which(tool) is None:
            raise ConfigError(f"linux.{kind}", f"mapping more than your own id needs {tool} "
                              "(install the uidmap package)")
        # newgidmap checks /etc/subgid against the *user* name too
        ranges = sub_ranges(path, own, name) + (sub_ranges(path, euid, _user_name(euid)) if kind == "gidMappings"
                                                 else [])
        for i, m in enumerate(maps):
            host, size = m.get("hostID", 0), m.get("size", 0)
            if host == own and size == 1:
                continue
            if not any(r.covers(host, size) for r in ranges):
                delegated = ", ".join(f"{r.start}-{r.start + r.count - 1}" for r in ranges) or "none"
                raise ConfigError(f"linux.{kind}[{i}]",
                                  f"host ids {host}-{host + size - 1} are not delegated to "
                                  f"{name or own} in {path} (delegated: {delegated})")
    return True
