"""Hypothesis strategies for config.json documents: the default spec mutated
at random paths, and documents assembled from the fields pyrunc acts on
with values drawn from both the plausible and the hostile (bad types,
escaping paths, unknown names, huge numbers, NULs, empty strings)."""
from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import strategies as st

from pyrunc.spec.default import default_spec

TEXT = st.text(alphabet="abcxyz/._-=: 019\x00\n\té✓", max_size=10)  # a fixed alphabet draws fast
HOSTILE_STR = st.sampled_from(["", " ", "\x00", "..", "../..", "/", "//", "/../../etc", "a/../../b", "x" * 300,
                               "\n", "é", "$(id)", "-1", "0x10", "null", "/proc/self/fd/3", "/dev/null"])
STRINGS = st.one_of(TEXT, HOSTILE_STR)
NUMBERS = st.one_of(st.integers(-(2**64), 2**64), st.sampled_from([0, -1, 1, 2**31 - 1, 2**31, 2**32, 2**63,
                                                                   -(2**63)]),
                    st.floats(allow_nan=False, allow_infinity=False))
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, STRINGS)
JSON = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                     st.dictionaries(STRINGS, inner, max_size=4)), max_leaves=6)

PATHS = st.one_of(st.sampled_from(["/", "/proc", "/sys", "/dev", "/dev/null", "/dev/pts", "/tmp", "/x/y", "/a/./b",
                                   "/a/../b", "/../x", "relative/dir", "", "/proc/sys/kernel/x", "/dev/console",
                                   "/sys/fs/cgroup", "//double", "/trailing/"]), STRINGS.map(lambda s: "/" + s))
MOUNT_OPTIONS = st.sampled_from([
    "ro", "rw", "bind", "rbind", "nosuid", "suid", "noexec", "exec", "nodev", "dev", "private", "rprivate",
    "shared", "rshared", "slave", "rslave", "unbindable", "runbindable", "strictatime", "relatime", "noatime",
    "nodiratime", "size=1m", "mode=755", "mode=99999", "uid=0", "gid=5", "tmpcopyup", "idmap", "ridmap", "rro",
    "rrw", "rnosuid", "rnoexec", "rnodev", "ratime", "sync", "async", "dirsync", "remount", "mand", "nomand",
    "newinstance", "ptmxmode=0666", "X-mount.mkdir", "nosymfollow", "lazytime", "silent", "loud", "bogus=1",
    "", ",", "=", "size=-1"])
FS_TYPES = st.sampled_from(["tmpfs", "proc", "sysfs", "bind", "devpts", "mqueue", "cgroup", "cgroup2", "none",
                            "overlay", "ext4", "nosuchfs", ""])
NS_TYPES = st.sampled_from(["pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time", "net", "bogus", ""])
CAPS = st.one_of(st.sampled_from(["CAP_CHOWN", "CAP_KILL", "CAP_SYS_ADMIN", "CAP_NET_RAW", "CAP_SETUID",
                                  "CAP_AUDIT_WRITE", "CAP_BPF", "CAP_CHECKPOINT_RESTORE", "CAP_BOGUS", "kill",
                                  "CAP_", "cap_sys_admin", "CAP_LAST_CAP"]), STRINGS)
SYSCALLS = st.one_of(st.sampled_from(["read", "write", "openat", "mkdir", "clone", "clone3", "ptrace", "bpf",
                                      "socket", "personality", "nosuchcall", "", "open"]), STRINGS)
ACTIONS = st.sampled_from(["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS",
                           "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP", "SCMP_ACT_TRACE", "SCMP_ACT_LOG",
                           "SCMP_ACT_NOTIFY", "SCMP_ACT_NOPE", ""])
RLIMITS = st.sampled_from(["RLIMIT_NOFILE", "RLIMIT_NPROC", "RLIMIT_CORE", "RLIMIT_AS", "RLIMIT_BOGUS", "nofile"])


def _or_hostile(s: st.SearchStrategy) -> st.SearchStrategy:
    """Mostly `s`, sometimes any JSON value (a wrong type)."""
    return st.one_of(s, s, s, JSON)


mount = st.fixed_dictionaries(
    {"destination": _or_hostile(PATHS)},
    optional={"type": _or_hostile(FS_TYPES), "source": _or_hostile(st.one_of(FS_TYPES, PATHS)),
              "options": _or_hostile(st.lists(MOUNT_OPTIONS, max_size=5)),
              "uidMappings": _or_hostile(st.just([{"containerID": 0, "hostID": 1000, "size": 1}]))})
namespace = st.fixed_dictionaries({"type": _or_hostile(NS_TYPES)}, optional={"path": _or_hostile(PATHS)})
id_mapping = st.fixed_dictionaries({"containerID": _or_hostile(NUMBERS), "hostID": _or_hostile(NUMBERS),
                                    "size": _or_hostile(NUMBERS)})
cap_list = _or_hostile(st.lists(CAPS, max_size=4))
capabilities = st.fixed_dictionaries({}, optional={k: cap_list for k in
                                                   ("bounding", "effective", "permitted", "inheritable", "ambient")})
rlimit = st.fixed_dictionaries({"type": _or_hostile(RLIMITS), "soft": _or_hostile(NUMBERS),
                                "hard": _or_hostile(NUMBERS)})
seccomp_rule = st.fixed_dictionaries(
    {"names": _or_hostile(st.lists(SYSCALLS, max_size=3)), "action": _or_hostile(ACTIONS)},
    optional={"errnoRet": _or_hostile(NUMBERS),
              "args": _or_hostile(st.lists(st.fixed_dictionaries(
                  {"index": _or_hostile(NUMBERS), "value": _or_hostile(NUMBERS),
                   "op": _or_hostile(st.sampled_from(["SCMP_CMP_EQ", "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE",
                                                      "SCMP_CMP_GT", "SCMP_CMP_BOGUS"]))},
                  optional={"valueTwo": _or_hostile(NUMBERS)}), max_size=3))})
seccomp = st.fixed_dictionaries(
    {"defaultAction": _or_hostile(ACTIONS)},
    optional={"architectures": _or_hostile(st.lists(st.sampled_from(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86",
                                                                     "SCMP_ARCH_AARCH64", "SCMP_ARCH_BOGUS"]),
                                                    max_size=3)),
              "syscalls": _or_hostile(st.lists(seccomp_rule, max_size=3)),
              "flags": _or_hostile(st.lists(st.sampled_from(["SECCOMP_FILTER_FLAG_LOG",
                                                            "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                                                            "SECCOMP_FILTER_FLAG_BOGUS"]), max_size=2)),
              "defaultErrnoRet": _or_hostile(NUMBERS), "listenerPath": _or_hostile(PATHS)})
device = st.fixed_dictionaries({"path": _or_hostile(PATHS), "type": _or_hostile(st.sampled_from(["c", "b", "u", "p",
                                                                                               "x"]))},
                               optional={"major": _or_hostile(NUMBERS), "minor": _or_hostile(NUMBERS),
                                         "fileMode": _or_hostile(NUMBERS), "uid": _or_hostile(NUMBERS),
                                         "gid": _or_hostile(NUMBERS)})
resources = st.fixed_dictionaries({}, optional={
    "memory": _or_hostile(st.fixed_dictionaries({}, optional={"limit": NUMBERS, "swap": NUMBERS,
                                                              "reservation": NUMBERS})),
    "cpu": _or_hostile(st.fixed_dictionaries({}, optional={"shares": NUMBERS, "quota": NUMBERS, "period": NUMBERS,
                                                           "cpus": STRINGS, "mems": STRINGS})),
    "pids": _or_hostile(st.fixed_dictionaries({"limit": NUMBERS})),
    "devices": _or_hostile(st.lists(st.fixed_dictionaries({"allow": st.booleans()}, optional={
        "type": st.sampled_from(["a", "c", "b", "x"]), "major": NUMBERS, "minor": NUMBERS,
        "access": st.sampled_from(["rwm", "r", "", "rwx", "mmm"])}), max_size=3)),
    "unified": _or_hostile(st.dictionaries(STRINGS, STRINGS, max_size=2)),
})

# field path -> strategy for its value (the fields pyrunc acts on)
FIELDS: dict[tuple, st.SearchStrategy] = {
    ("ociVersion",): _or_hostile(st.sampled_from(["1.3.0", "1.0.0", "1.2.1", "2.0.0", "1.3", "", "1.3.0-rc.1"])),
    ("root", "path"): _or_hostile(st.sampled_from(["rootfs", "/", "", "../rootfs", "nope", "rootfs/."])),
    ("root", "readonly"): _or_hostile(st.booleans()),
    ("hostname",): _or_hostile(STRINGS),
    ("domainname",): _or_hostile(STRINGS),
    ("mounts",): _or_hostile(st.lists(mount, max_size=4)),
    ("process", "args"): _or_hostile(st.lists(STRINGS, max_size=3)),
    ("process", "cwd"): _or_hostile(PATHS),
    ("process", "env"): _or_hostile(st.lists(STRINGS, max_size=3)),
    ("process", "terminal"): _or_hostile(st.booleans()),
    ("process", "user"): _or_hostile(st.fixed_dictionaries(
        {"uid": _or_hostile(NUMBERS), "gid": _or_hostile(NUMBERS)},
        optional={"additionalGids": _or_hostile(st.lists(NUMBERS, max_size=3)), "umask": _or_hostile(NUMBERS)})),
    ("process", "capabilities"): _or_hostile(capabilities),
    ("process", "rlimits"): _or_hostile(st.lists(rlimit, max_size=3)),
    ("process", "noNewPrivileges"): _or_hostile(st.booleans()),
    ("process", "oomScoreAdj"): _or_hostile(NUMBERS),
    ("process", "consoleSize"): _or_hostile(st.fixed_dictionaries({"height": NUMBERS, "width": NUMBERS})),
    ("process", "scheduler"): _or_hostile(st.fixed_dictionaries(
        {"policy": st.sampled_from(["SCHED_OTHER", "SCHED_FIFO", "SCHED_RR", "SCHED_BATCH", "SCHED_IDLE",
                                    "SCHED_DEADLINE", "SCHED_BOGUS"])},
        optional={"nice": NUMBERS, "priority": NUMBERS, "runtime": NUMBERS, "deadline": NUMBERS,
                  "period": NUMBERS, "flags": st.lists(STRINGS, max_size=2)})),
    ("process", "ioPriority"): _or_hostile(st.fixed_dictionaries(
        {"class": st.sampled_from(["IOPRIO_CLASS_RT", "IOPRIO_CLASS_BE", "IOPRIO_CLASS_IDLE", "IOPRIO_BOGUS"]),
         "priority": NUMBERS})),
    ("process", "execCPUAffinity"): _or_hostile(st.fixed_dictionaries({}, optional={
        "initial": st.one_of(STRINGS, st.sampled_from(["0", "0-1", "1,0", "0-", "5-2", "0-100000"])),
        "final": st.one_of(STRINGS, st.sampled_from(["0", "0-1", "x"]))})),
    ("process", "apparmorProfile"): _or_hostile(STRINGS),
    ("linux", "namespaces"): _or_hostile(st.lists(namespace, max_size=5)),
    ("linux", "uidMappings"): _or_hostile(st.lists(id_mapping, max_size=2)),
    ("linux", "gidMappings"): _or_hostile(st.lists(id_mapping, max_size=2)),
    ("linux", "timeOffsets"): _or_hostile(st.dictionaries(st.sampled_from(["monotonic", "boottime", "realtime"]),
                                                          st.fixed_dictionaries({"secs": NUMBERS},
                                                                                optional={"nanosecs": NUMBERS}),
                                                          max_size=2)),
    ("linux", "sysctl"): _or_hostile(st.dictionaries(st.one_of(STRINGS, st.sampled_from(
        ["net.ipv4.ip_forward", "kernel.shmmax", "kernel.hostname", "vm.swappiness", "fs.mqueue.msg_max",
         "net/ipv4/ip_forward", "kernel..x", "../../etc"])), STRINGS, max_size=3)),
    ("linux", "seccomp"): _or_hostile(seccomp),
    ("linux", "devices"): _or_hostile(st.lists(device, max_size=3)),
    ("linux", "resources"): _or_hostile(resources),
    ("linux", "cgroupsPath"): _or_hostile(st.one_of(PATHS, st.sampled_from(["a:b:c", "slice:prefix:name"]))),
    ("linux", "maskedPaths"): _or_hostile(st.lists(PATHS, max_size=3)),
    ("linux", "readonlyPaths"): _or_hostile(st.lists(PATHS, max_size=3)),
    ("linux", "rootfsPropagation"): _or_hostile(st.sampled_from(["private", "rprivate", "shared", "rslave",
                                                                 "unbindable", "bogus", ""])),
    ("linux", "personality"): _or_hostile(st.fixed_dictionaries({"domain": st.sampled_from(
        ["LINUX", "LINUX32", "BOGUS"])}, optional={"flags": st.lists(STRINGS, max_size=2)})),
    ("linux", "memoryPolicy"): _or_hostile(st.fixed_dictionaries(
        {"mode": st.sampled_from(["MPOL_DEFAULT", "MPOL_BIND", "MPOL_INTERLEAVE", "MPOL_PREFERRED", "MPOL_X"])},
        optional={"nodes": st.one_of(STRINGS, st.sampled_from(["0", "0-1", "9999"])),
                  "flags": st.lists(st.sampled_from(["MPOL_F_STATIC_NODES", "MPOL_F_BOGUS"]), max_size=2)})),
    ("hooks",): _or_hostile(st.fixed_dictionaries({}, optional={
        k: st.lists(st.fixed_dictionaries({"path": _or_hostile(PATHS)}, optional={
            "args": st.lists(STRINGS, max_size=2), "timeout": NUMBERS}), max_size=2)
        for k in ("prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop")})),
    ("annotations",): _or_hostile(st.dictionaries(STRINGS, STRINGS, max_size=3)),
}
FIELD_KEYS = sorted(FIELDS)


def base_config() -> dict[str, Any]:
    c = default_spec()
    c["process"]["terminal"] = False
    c["process"]["args"] = ["true"]
    return c


def _paths(doc: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path (dict keys, list indices) inside a document."""
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, prefix + (i,))
    return out


def _set(doc: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    parent = doc
    for p in path[:-1]:
        if isinstance(parent, dict):
            parent = parent.setdefault(p, {})
        elif isinstance(parent, list) and isinstance(p, int) and p < len(parent):
            parent = parent[p]
        else:
            return doc
    last = path[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list) and isinstance(last, int) and last < len(parent):
        parent[last] = value
    return doc


def _delete(doc: Any, path: tuple) -> Any:
    parent = doc
    for p in path[:-1]:
        parent = parent[p]
    if isinstance(parent, dict):
        parent.pop(path[-1], None)
    elif isinstance(parent, list):
        del parent[path[-1]]
    return doc


@st.composite
def mutated_configs(draw) -> Any:
    """The default spec with 1..4 mutations: a known field set to a drawn
    value, any existing value replaced by arbitrary JSON, a key deleted, an
    unknown key added, a list entry duplicated."""
    doc: Any = base_config()
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["field", "field", "field", "replace", "delete", "unknown", "duplicate"]))
        if kind == "field":
            key = draw(st.sampled_from(FIELD_KEYS))
            if isinstance(doc, dict):
                if len(key) == 2 and not isinstance(doc.get(key[0]), dict):
                    doc[key[0]] = {}
                doc = _set(doc, key, draw(FIELDS[key]))
            continue
        paths = _paths(doc)
        path = draw(st.sampled_from(paths))
        if kind == "replace":
            doc = _set(doc, path, draw(JSON))
        elif kind == "delete" and path:
            doc = _delete(doc, path)
        elif kind == "unknown":
            doc = _set(doc, path + (draw(STRINGS),), draw(JSON)) if isinstance(_get(doc, path), dict) else doc
        elif kind == "duplicate":
            target = _get(doc, path)
            if isinstance(target, list) and target:
                target.append(copy.deepcopy(target[draw(st.integers(0, len(target) - 1))]))
    return doc


def _get(doc: Any, path: tuple) -> Any:
    for p in path:
        doc = doc[p]
    return doc


@st.composite
def config_texts(draw) -> bytes:
    """Mostly serialized mutated configs; sometimes the text itself is
    damaged (truncated, a byte changed, not UTF-8, another JSON type)."""
    doc = draw(mutated_configs())
    text = json.dumps(doc).encode()
    damage = draw(st.sampled_from(["none"] * 8 + ["truncate", "byte", "latin1", "toplevel"]))
    if damage == "truncate":
        text = text[: draw(st.integers(0, max(0, len(text) - 1)))]
    elif damage == "byte" and text:
        i = draw(st.integers(0, len(text) - 1))
        text = text[:i] + bytes([draw(st.integers(0, 255))]) + text[i + 1:]
    elif damage == "latin1":
        text = text.replace(b'"true"', b'"tr\xe9e"', 1) + b"\xff"
    elif damage == "toplevel":
        text = json.dumps(draw(SCALARS)).encode()
    return text


HOSTILE_VALUES: list[Any] = [None, True, False, 0, -1, 2**63, -(2**63), 2**64, 1.5, "", "\x00", "..", "/../..",
                             "x" * 300, "\n", [], {}, [None], {"": None}, ["/"], {"type": "bind"}]


def derive(doc: Any, rng) -> Any:
    """A cheap extra mutant of `doc` (python's random, seeded by hypothesis):
    one path replaced by a hostile value, deleted, or its type changed."""
    doc = copy.deepcopy(doc)
    paths = _paths(doc)
    path = rng.choice(paths)
    op = rng.random()
    if op < 0.5:
        return _set(doc, path, copy.deepcopy(rng.choice(HOSTILE_VALUES)))
    if op < 0.7 and path:
        return _delete(doc, path)
    value = _get(doc, path)
    retyped = {str: lambda v: [v], int: str, bool: int, list: lambda v: {"0": v}, dict: lambda v: list(v.values())}
    fn = retyped.get(type(value))
    return _set(doc, path, fn(value)) if fn else doc
