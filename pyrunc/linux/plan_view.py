"""The plan made visible: each operation the init will perform, in order,
with named arguments, a one-line description and the config field it comes
from (`pyrunc plan`), and the `--debug` timeline of a plan as it ran.

The JSON form (`describe`) is documented in docs/plan.md; its keys are
stable: index, op, phase, args, text, source."""
from __future__ import annotations

from pyrunc.linux import ops as o

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pyrunc.linux.plan import Plan

# Argument names per operation (csrc/init/ops.h).  Extra arguments a newer
# init takes are shown as arg<N>.
ARGS: dict[int, tuple[str, ...]] = {
    o.OP_CGROUP_JOIN: ("procs_file",),
    o.OP_SETNS: ("path", "nstype"),
    o.OP_UNSHARE_TIME: ("offsets",),
    o.OP_CLONE: ("flags", "uid_map", "gid_map", "setgroups", "newuidmap"),
    o.OP_OOM_SCORE_ADJ: ("value",),
    o.OP_SYSCTL: ("key", "value"),
    o.OP_RLIMIT: ("resource", "soft", "hard"),
    o.OP_ROOT_PROPAGATION: ("flags",),
    o.OP_ROOTFS: ("path", "host_ns"),
    o.OP_MOUNT: ("source", "destination", "fstype", "flags", "data", "kind", "mkkind", "propagation",
                 "attr_set", "attr_clr", "rattr_set", "rattr_clr", "ext", "idmap_uid_map", "idmap_gid_map"),
    o.OP_MKNOD: ("path", "type", "major", "minor", "mode", "uid", "gid", "bind"),
    o.OP_SYMLINK: ("target", "path", "replace"),
    o.OP_HOOK: ("kind", "path", "args", "env", "timeout", "cwd"),
    o.OP_PIVOT: ("mode",),
    o.OP_READONLY_PATH: ("path",),
    o.OP_MASK_PATH: ("path",),
    o.OP_HOSTNAME: ("name",),
    o.OP_DOMAINNAME: ("name",),
    o.OP_CONSOLE: ("socket_fd", "rows", "cols", "bind_console"),
    o.OP_SECCOMP: ("bpf", "flags", "notify"),
    o.OP_CAPBSET: ("keep",),
    o.OP_SETGROUPS: ("gids",),
    o.OP_SETGID: ("gid",),
    o.OP_SETUID: ("uid",),
    o.OP_CAPS: ("effective", "permitted", "inheritable", "ambient"),
    o.OP_UMASK: ("umask",),
    o.OP_CWD: ("path", "early"),
    o.OP_MKCWD: ("path", "mode"),
    o.OP_FIX_STDIO: ("uid",),
    o.OP_HOME: ("uid",),
    o.OP_FIND_EXEC: ("arg0", "PATH"),
    o.OP_FIFO_OPEN: ("fifo_fd", "reply_fd"),
    o.OP_CLOSE_FDS: ("first_fd",),
    o.OP_EXEC: ("args", "env"),
    o.OP_PERSONALITY: ("persona",),
    o.OP_SCHEDULER: ("policy", "nice", "priority", "flags", "runtime", "deadline", "period"),
    o.OP_IOPRIO: ("value",),
    o.OP_CPU_AFFINITY: ("cpus",),
    o.OP_MEMPOLICY: ("mode", "flags", "nodes"),
    o.OP_KEYRING: ("name",),
    o.OP_CGROUP_JOIN_LATE: ("procs_file",),
    o.OP_LSM_EXEC: ("attrs", "value", "field"),
    o.OP_TRACE: ("fd",),
}

LIST_ARGS = {"args", "env", "attrs"}  # NUL-separated lists


def op_name(code: int) -> str:
    return o.NAMES.get(code, f"OP_{code}").removeprefix("OP_").lower()


def _value(name: str, v: Any) -> Any:
    if isinstance(v, bytes):
        if name == "bpf":
            return f"<{len(v) // 8} BPF instructions>"
        text = v.decode(errors="replace")
        return [x for x in text.split("\0") if x] if name in LIST_ARGS else text
    if isinstance(v, str) and name in LIST_ARGS:
        return [x for x in v.split("\0") if x]
    return v


def named_args(op: tuple) -> dict[str, Any]:
    names = ARGS.get(op[0], ())
    out: dict[str, Any] = {}
    for i, v in enumerate(op[1:]):
        name = names[i] if i < len(names) else f"arg{i}"
        if v is None:
            continue
        out[name] = _value(name, v)
    return out


def _ns_names(flags: int) -> list[str]:
    from pyrunc.linux.namespaces import NAMESPACES

    return [name for name, (flag, _) in NAMESPACES.items() if flags & flag]


def _caps(mask: Any) -> str:
    from pyrunc.linux.capabilities import mask_to_names

    names = mask_to_names(int(str(mask), 16))
    return ",".join(n.removeprefix("CAP_") for n in names) or "-"


def _one_line(idmap: Any) -> str:
    """uid_map text ("0 100000 65536\\n...") as 0:100000:65536,..."""
    return ",".join(":".join(line.split()) for line in str(idmap or "").splitlines() if line.strip()) or "-"


def _mount_flags(flags: int) -> str:
    from pyrunc.linux import mounts as m

    names = [k.removeprefix("MS_").lower() for k, v in vars(m).items()
             if k.startswith("MS_") and isinstance(v, int) and v and v & (v - 1) == 0 and flags & v]
    return ",".join(sorted(set(names))) or "-"


_ATTRS = {0x1: "ro", 0x2: "nosuid", 0x4: "nodev", 0x8: "noexec", 0x10: "noatime", 0x80: "nodiratime",
          0x100000: "idmap", 0x200000: "nosymfollow"}


def _mount_attrs(hexval: Any) -> list[str]:
    try:
        v = int(str(hexval or "0"), 16)
    except ValueError:
        return []
    return [name for bit, name in _ATTRS.items() if v & bit]


def _propagation(spec: str) -> str:
    """"262144:1,..." (flag:recursive) as rprivate, slave, ..."""
    from pyrunc.linux import mounts as m

    names = {m.MS_PRIVATE: "private", m.MS_SLAVE: "slave", m.MS_UNBINDABLE: "unbindable", 1 << 20: "shared"}
    out = []
    for part in spec.split(","):
        flag, _, rec = part.partition(":")
        try:
            name = names.get(int(flag), flag)
        except ValueError:
            name = flag
        out.append(("r" if rec == "1" else "") + name)
    return ",".join(out)


def text(op: tuple, a: dict[str, Any], config: dict | None = None) -> str:
    """One line saying what the operation does."""
    c = op[0]
    if c == o.OP_CGROUP_JOIN:
        return f"join cgroup {a['procs_file']}"
    if c == o.OP_SETNS:
        return f"join namespace {a['path']}"
    if c == o.OP_CLONE:
        ns = ",".join(_ns_names(int(a["flags"]))) or "none"
        s = f"clone the container init with new namespaces: {ns}"
        if a.get("uid_map"):
            s += f"; uid_map {a['uid_map'].strip()!r}; gid_map {a['gid_map'].strip()!r}"
        return s
    if c == o.OP_SYSCTL:
        return f"sysctl {a['key']} = {a['value']}"
    if c == o.OP_RLIMIT:
        import resource

        names = {v: k for k, v in vars(resource).items()
                 if k.startswith("RLIMIT_") and k != "RLIMIT_OFILE" and isinstance(v, int)}
        return f"setrlimit {names.get(int(a['resource']), a['resource'])} soft={a['soft']} hard={a['hard']}"
    if c == o.OP_KEYRING:
        return f"join a new session keyring {a['name']}"
    if c == o.OP_FIFO_OPEN:
        return f"keep the start gate fifos (exec.fifo fd={a['fifo_fd']}, exec.reply fd={a['reply_fd']})"
    if c == o.OP_CONSOLE:
        bind = ", bound at /dev/console" if str(a.get("bind_console")) == "1" else ""
        return f"make the pty and send its master over the console socket fd={a['socket_fd']}{bind}"
    if c in (o.OP_SETUID, o.OP_SETGID):
        return f"{'setuid' if c == o.OP_SETUID else 'setgid'} {a.get('uid', a.get('gid'))}"
    if c == o.OP_UMASK:
        return f"umask {a['umask']}"
    if c == o.OP_CLOSE_FDS:
        return f"close every fd from {a['first_fd']} up"
    if c == o.OP_OOM_SCORE_ADJ:
        return f"oom_score_adj {a['value']}"
    if c == o.OP_CWD:
        early = " (as root, before the identity switch)" if str(a.get("early")) == "1" else ""
        return f"chdir {a['path']}{early}"
    if c == o.OP_UNSHARE_TIME:
        return f"unshare the time namespace, offsets {a['offsets'].strip()!r}"
    name = op_name(c)
    if name == "loopback_up":
        return "bring lo up in the new network namespace"
    if name == "fix_stdio":
        return f"hand stdio (pipes, sockets, the pty) to uid {next(iter(a.values()), '?')}"
    if name == "home":
        return f"HOME from the container's /etc/passwd for uid {next(iter(a.values()), '?')} (process.env has none)"
    if c == o.OP_ROOT_PROPAGATION:
        return f"propagation of / : {_mount_flags(int(a['flags']))}"
    if c == o.OP_ROOTFS:
        if str(a.get("host_ns")) == "1":
            return f"bind the root filesystem {a['path']} onto itself, private, in the caller's mount namespace"
        return f"bind the root filesystem {a['path']} onto itself"
    if c == o.OP_MOUNT:
        if a.get("kind") in ("bind", "rbind"):
            s = f"{a['kind']} {a['source']} -> {a['destination']}"
        else:
            s = f"mount -t {a['fstype']} {a['source']} -> {a['destination']} flags {_mount_flags(int(a['flags']))}"
            if a.get("data"):
                s += f" data {a['data']!r}"
        attrs = _mount_attrs(a.get("attr_set")) + [f"r{x}" for x in _mount_attrs(a.get("rattr_set"))]
        if attrs:
            s += f" ({','.join(attrs)})"
        if a.get("propagation"):
            s += f" propagation {_propagation(str(a['propagation']))}"
        ext = int(a.get("ext") or 0)  # pyrunc.linux.plan MX_*
        notes = [t for bit, t in ((1, "copy of the directory it covers (tmpcopyup)"),
                                  (2, "mode of the directory it covers"), (4, "read-only after setup"),
                                  (8, "source opened by the launcher")) if ext & bit]
        if ext & 16:  # MX_IDMAP, MX_RIDMAP, MX_IDMAP_PATH
            by = (f"the user namespace {a.get('idmap_uid_map')}" if ext & 64 else
                  f"uid map {_one_line(a.get('idmap_uid_map'))} gid map {_one_line(a.get('idmap_gid_map'))}")
            notes.append(f"{'ridmap: every mount of the tree' if ext & 32 else 'idmapped'} by {by}")
        if notes:
            s += f" [{'; '.join(notes)}]"
        return s
    if c == o.OP_MKNOD:
        if str(a.get("bind")) == "1":
            return f"bind host device {a['path']}"
        return f"mknod {a['path']} {a['type']} {a['major']}:{a['minor']} mode {int(a['mode']):o} uid {a['uid']} gid {a['gid']}"
    if c == o.OP_SYMLINK:
        return f"symlink {a['path']} -> {a['target']}"
    if c == o.OP_HOOK:
        return f"{a['kind']} hook {a['path']} {' '.join(a.get('args') or [])[:80]}"
    if c == o.OP_PIVOT:
        mode = str(a["mode"])
        if mode == "2":
            return "chroot into the rootfs (no mount namespace of its own)"
        return "chroot into the rootfs (MS_MOVE)" if mode == "1" else "pivot_root into the rootfs"
    if c == o.OP_READONLY_PATH:
        return f"read-only {a['path']}"
    if c == o.OP_MASK_PATH:
        return f"mask {a['path']}"
    if c == o.OP_SECCOMP:
        sc = ((config or {}).get("linux") or {}).get("seccomp") or {}
        archs = ",".join(sc.get("architectures") or []) or "native"
        notify = " with a notify listener" if str(a.get("notify")) == "1" else ""
        return (f"seccomp filter {a['bpf']}: default {sc.get('defaultAction', '?')}, "
                f"{len(sc.get('syscalls') or [])} rules, architectures {archs}{notify}")
    if c == o.OP_CAPBSET:
        return f"bounding set: {_caps(a['keep'])}"
    if c == o.OP_CAPS:
        return "capabilities " + "; ".join(f"{k}: {_caps(a[k])}" for k in ARGS[c] if k in a)
    if c == o.OP_SETGROUPS:
        return f"setgroups [{a['gids']}]"
    if c == o.OP_EXEC:
        return f"execve {a['args']} with {len(a.get('env') or [])} env vars"
    if c == o.OP_FIND_EXEC:
        return f"find {a['arg0']} in PATH={a['PATH']}"
    simple = {o.OP_SETSID: "setsid", o.OP_HOOKS_SYNC: "sync with pyrunc: prestart and createRuntime hooks",
              o.OP_ROOT_READONLY: "remount / read-only",
              o.OP_MOUNTS_RO: "make the tmpfs and /dev mounts asked read-only so (after devices and console)", o.OP_KEEPCAPS: "keep capabilities across setuid",
              o.OP_NO_NEW_PRIVS: "no_new_privs", o.OP_READY: "report ready to pyrunc",
              o.OP_FIFO_WAIT: "wait at the start gate (exec.fifo)",
              o.OP_FIFO_RELEASE: "tell `start` the startContainer hooks passed"}
    if c in simple:
        return simple[c]
    return op_name(c) + "".join(f" {k}={v}" for k, v in a.items())


# ------------------------------------------------------------------ sources

def _index_by(items: list, key) -> dict:
    out: dict = {}
    for i, item in enumerate(items):
        try:
            out.setdefault(key(item), i)
        except (TypeError, KeyError, AttributeError):
            continue
    return out


def sources(config: dict, ops: list[tuple]) -> list[str | None]:
    """For each operation, the config field it comes from (None: the
    runtime's own step).  Derived from the operation's arguments."""
    process = config.get("process") or {}
    linux = config.get("linux") or {}
    mounts = config.get("mounts") or []
    from pyrunc.linux.plan import clean_destination

    def dest_of(m: dict) -> str:
        return clean_destination(m.get("destination", ""), "")

    by_dest: dict[str, list[int]] = {}
    for i, m in enumerate(mounts):
        try:
            by_dest.setdefault(dest_of(m), []).append(i)
        except Exception:
            continue
    devices = _index_by(linux.get("devices") or [], lambda d: d["path"])
    masked = _index_by(linux.get("maskedPaths") or [], lambda p: p)
    ro = _index_by(linux.get("readonlyPaths") or [], lambda p: p)
    rlimits = _index_by(process.get("rlimits") or [], lambda r: r["type"])
    nss = _index_by(linux.get("namespaces") or [], lambda n: n.get("path"))
    hooks = config.get("hooks") or {}
    used_mounts: dict[int, int] = {}
    cgroup_mount: int | None = None
    out: list[str | None] = []
    for op in ops:
        c, a = op[0], op[1:]
        src: str | None = None
        if c == o.OP_MOUNT:
            dest = str(a[1])
            idx = by_dest.get(dest)
            if idx:
                n = used_mounts.get(id(idx), 0)
                i = idx[min(n, len(idx) - 1)]
                used_mounts[id(idx)] = n + 1
                src = f"mounts[{i}]"
                if (mounts[i].get("type") in ("cgroup", "cgroup2")):
                    cgroup_mount = i
            elif cgroup_mount is not None:
                src = f"mounts[{cgroup_mount}] (a cgroup hierarchy)"
        elif c == o.OP_MKNOD:
            i = devices.get(a[0])
            src = f"linux.devices[{i}]" if i is not None else "default device"
        elif c == o.OP_SYMLINK:
            src = "default /dev symlink"
        elif c == o.OP_MASK_PATH and a[0] in masked:
            src = f"linux.maskedPaths[{masked[a[0]]}]"
        elif c == o.OP_READONLY_PATH and a[0] in ro:
            src = f"linux.readonlyPaths[{ro[a[0]]}]"
        elif c == o.OP_SYSCTL:
            src = f'linux.sysctl["{a[0]}"]'
        elif c == o.OP_RLIMIT:
            names = [r for r in rlimits]
            hit = next((r for r in names if r.upper().removeprefix("RLIMIT_") == str(a[0]).upper().removeprefix("RLIMIT_")
                        or str(a[0]) == r), None)
            src = f"process.rlimits[{rlimits[hit]}]" if hit is not None else "process.rlimits"
        elif c == o.OP_SETNS:
            i = nss.get(a[0])
            src = f"linux.namespaces[{i}].path" if i is not None else "linux.namespaces"
        elif c == o.OP_CLONE:
            src = "linux.namespaces, linux.uidMappings, linux.gidMappings"
        elif c == o.OP_ROOTFS:
            src = "root.path"
        elif c == o.OP_ROOT_PROPAGATION:
            src = "linux.rootfsPropagation" if linux.get("rootfsPropagation") else None
        elif c == o.OP_ROOT_READONLY:
            src = "root.readonly"
        elif c == o.OP_HOSTNAME:
            src = "hostname"
        elif c == o.OP_DOMAINNAME:
            src = "domainname"
        elif c == o.OP_OOM_SCORE_ADJ:
            src = "process.oomScoreAdj"
        elif c == o.OP_HOOK:
            kind = str(a[0])
            lst = hooks.get(kind) or []
            i = next((j for j, h in enumerate(lst) if h.get("path") == a[1]), None)
            src = f"hooks.{kind}[{i}]" if i is not None else f"hooks.{kind}"
        elif c == o.OP_SECCOMP:
            src = "linux.seccomp"
        elif c in (o.OP_CAPS, o.OP_CAPBSET, o.OP_KEEPCAPS):
            src = "process.capabilities"
        elif c in (o.OP_SETUID, o.OP_SETGID):
            src = f"process.user.{'uid' if c == o.OP_SETUID else 'gid'}"
        elif c == o.OP_SETGROUPS:
            src = "process.user.additionalGids"
        elif c == o.OP_NO_NEW_PRIVS:
            src = "process.noNewPrivileges"
        elif c == o.OP_UMASK:
            src = "process.user.umask" if (process.get("user") or {}).get("umask") is not None else None
        elif c in (o.OP_CWD, o.OP_MKCWD):
            src = "process.cwd"
        elif c == o.OP_FIX_STDIO:
            src = "process.user.uid"
        elif c == o.OP_HOME:
            src = "process.user.uid, process.env"
        elif c == o.OP_LOOPBACK_UP:
            src = "linux.namespaces (network)"
        elif c in (o.OP_FIND_EXEC, o.OP_EXEC):
            src = "process.args, process.env"
        elif c == o.OP_CONSOLE:
            src = "process.terminal, process.consoleSize"
        elif c == o.OP_PERSONALITY:
            src = "linux.personality"
        elif c == o.OP_SCHEDULER:
            src = "process.scheduler"
        elif c == o.OP_IOPRIO:
            src = "process.ioPriority"
        elif c == o.OP_CPU_AFFINITY:
            src = "process.execCPUAffinity"
        elif c == o.OP_MEMPOLICY:
            src = "linux.memoryPolicy"
        elif c == o.OP_LSM_EXEC:
            src = "process.apparmorProfile / process.selinuxLabel"
        elif c == o.OP_UNSHARE_TIME:
            src = "linux.timeOffsets"
        elif c == o.OP_CGROUP_JOIN:
            src = "linux.cgroupsPath"
        out.append(src)
    return out


def describe(config: dict, plan: "Plan") -> list[dict[str, Any]]:
    """The plan as a list of JSON-able records (docs/plan.md)."""
    srcs = sources(config, plan.ops)
    out = []
    clone_seen = False
    for i, op in enumerate(plan.ops):
        a = named_args(op)
        phase = "launcher" if not clone_seen else "init"
        if op[0] == o.OP_CLONE:
            clone_seen = True
        line = " ".join(text(op, a, config).split("\n")).strip()
        out.append({"index": i, "op": op_name(op[0]), "phase": phase, "args": a,
                    "text": line, "source": srcs[i]})
    return out


def render_text(records: list[dict[str, Any]]) -> str:
    lines = []
    for r in records:
        src = f"  [{r['source']}]" if r["source"] else ""
        lines.append(f"{r['index']:3d} {r['phase']:8s} {r['text']}{src}")
    return "\n".join(lines)


# ------------------------------------------------------------------ errors

def _mount_desc(m: dict) -> str:
    opts = m.get("options") or []
    kind = "bind" if m.get("type") == "bind" or "bind" in opts or "rbind" in opts else (m.get("type") or "?")
    return f"{m.get('destination')}, {kind} from {m.get('source') or kind}"


def _hint(op: tuple, errno_: int) -> str:
    """The likely cause where the errno alone misleads."""
    import errno as e

    if op[0] == o.OP_MOUNT and len(op) > 6 and op[6] in ("bind", "rbind") and errno_ in (e.ENOTDIR, e.EISDIR,
                                                                                           e.EINVAL):
        what = "a file" if len(op) > 7 and op[7] == "file" else "a directory"
        return f"the source is {what}: is the destination in the rootfs of the other kind?"
    if op[0] == o.OP_SYSCTL and errno_ in (e.ENOENT, e.EACCES, e.EROFS, e.EPERM):
        return "not a sysctl of the container's namespaces, or not on this kernel"
    if op[0] == o.OP_MKCWD and errno_ == e.EROFS:
        return "process.cwd is missing and the filesystem it would be made on is read-only"
    if op[0] == o.OP_CWD and errno_ in (e.EROFS, e.EACCES):
        return "process.cwd is not reachable by the user"
    if op[0] == o.OP_SECCOMP and errno_ in (e.EINVAL, e.EACCES, e.EPERM):
        return "the kernel refused the filter (a flag or action it does not have, or no_new_privs unset without CAP_SYS_ADMIN)"
    return ""


def locate_error(config: dict, ops: list[tuple], err):  # InitError -> InitError
    """The init's error with the config field the failing record came from
    (and a hint at the cause where the errno misleads)."""
    if err.index is None or not 0 <= err.index < len(ops):
        return err
    src = sources(config, ops)[err.index]
    if not src:
        return err
    if src.startswith("mounts["):
        try:
            i = int(src[len("mounts["):src.index("]")])
            src = f"{src.split(' ')[0]} ({_mount_desc(config['mounts'][i])})"
        except (ValueError, IndexError, KeyError):
            pass
    hint = "" if "idmap" in err.detail else _hint(ops[err.index], err.errno)
    located = err.with_source(src)
    if hint:
        located.message = f"{located.message} ({hint})"
    return located
