"""Mount option tables: runtime-spec / runc option names to mount(2) flags,
propagation types, and mount_setattr(2) attributes for the recursive options."""
from __future__ import annotations

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_SYNCHRONOUS = 16
MS_REMOUNT = 32
MS_MANDLOCK = 64
MS_DIRSYNC = 128
MS_NOSYMFOLLOW = 256
MS_NOATIME = 1024
MS_NODIRATIME = 2048
MS_BIND = 4096
MS_MOVE = 8192
MS_REC = 16384
MS_SILENT = 32768
MS_UNBINDABLE = 1 << 17
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19
MS_SHARED = 1 << 20
MS_RELATIME = 1 << 21
MS_I_VERSION = 1 << 23
MS_STRICTATIME = 1 << 24
MS_LAZYTIME = 1 << 25

MOUNT_ATTR_RDONLY = 0x1
MOUNT_ATTR_NOSUID = 0x2
MOUNT_ATTR_NODEV = 0x4
MOUNT_ATTR_NOEXEC = 0x8
MOUNT_ATTR__ATIME = 0x70
MOUNT_ATTR_RELATIME = 0x0
MOUNT_ATTR_NOATIME = 0x10
MOUNT_ATTR_STRICTATIME = 0x20
MOUNT_ATTR_NODIRATIME = 0x80
MOUNT_ATTR_NOSYMFOLLOW = 0x200000

# option -> (clear?, flag)
FLAGS: dict[str, tuple[bool, int]] = {
    "acl": (False, 0),  # listed by runc as a no-op on Linux mount flags? kept in data below
    "async": (True, MS_SYNCHRONOUS),
    "atime": (True, MS_NOATIME),
    "bind": (False, MS_BIND),
    "defaults": (False, 0),
    "dev": (True, MS_NODEV),
    "diratime": (True, MS_NODIRATIME),
    "dirsync": (False, MS_DIRSYNC),
    "exec": (True, MS_NOEXEC),
    "iversion": (False, MS_I_VERSION),
    "lazytime": (False, MS_LAZYTIME),
    "loud": (True, MS_SILENT),
    "mand": (False, MS_MANDLOCK),
    "noatime": (False, MS_NOATIME),
    "nodev": (False, MS_NODEV),
    "nodiratime": (False, MS_NODIRATIME),
    "noexec": (False, MS_NOEXEC),
    "noiversion": (True, MS_I_VERSION),
    "nolazytime": (True, MS_LAZYTIME),
    "nomand": (True, MS_MANDLOCK),
    "norelatime": (True, MS_RELATIME),
    "nostrictatime": (True, MS_STRICTATIME),
    "nosuid": (False, MS_NOSUID),
    "nosymfollow": (False, MS_NOSYMFOLLOW),
    "rbind": (False, MS_BIND | MS_REC),
    "relatime": (False, MS_RELATIME),
    "remount": (False, MS_REMOUNT),
    "ro": (False, MS_RDONLY),
    "rw": (True, MS_RDONLY),
    "silent": (False, MS_SILENT),
    "strictatime": (False, MS_STRICTATIME),
    "suid": (True, MS_NOSUID),
    "symfollow": (True, MS_NOSYMFOLLOW),
    "sync": (False, MS_SYNCHRONOUS),
}
del FLAGS["acl"]

# option -> (propagation flag, recursive)
PROPAGATION: dict[str, tuple[int, bool]] = {
    "private": (MS_PRIVATE, False),
    "rprivate": (MS_PRIVATE, True),
    "shared": (MS_SHARED, False),
    "rshared": (MS_SHARED, True),
    "slave": (MS_SLAVE, False),
    "rslave": (MS_SLAVE, True),
    "unbindable": (MS_UNBINDABLE, False),
    "runbindable": (MS_UNBINDABLE, True),
}

# recursive attribute options (mount_setattr with AT_RECURSIVE): option -> (clear?, attr)
RECURSIVE_ATTRS: dict[str, tuple[bool, int]] = {
    "rro": (False, MOUNT_ATTR_RDONLY),
    "rrw": (True, MOUNT_ATTR_RDONLY),
    "rnosuid": (False, MOUNT_ATTR_NOSUID),
    "rsuid": (True, MOUNT_ATTR_NOSUID),
    "rnodev": (False, MOUNT_ATTR_NODEV),
    "rdev": (True, MOUNT_ATTR_NODEV),
    "rnoexec": (False, MOUNT_ATTR_NOEXEC),
    "rexec": (True, MOUNT_ATTR_NOEXEC),
    "rnodiratime": (False, MOUNT_ATTR_NODIRATIME),
    "rdiratime": (True, MOUNT_ATTR_NODIRATIME),
    "rrelatime": (False, MOUNT_ATTR_RELATIME),
    "rnorelatime": (True, MOUNT_ATTR_RELATIME),  # clears the atime field, as runc
    "rnoatime": (False, MOUNT_ATTR_NOATIME),
    "ratime": (True, MOUNT_ATTR_NOATIME),
    "rstrictatime": (False, MOUNT_ATTR_STRICTATIME),
    "rnostrictatime": (True, MOUNT_ATTR_STRICTATIME),
    "rnosymfollow": (False, MOUNT_ATTR_NOSYMFOLLOW),
    "rsymfollow": (True, MOUNT_ATTR_NOSYMFOLLOW),
}
_ATIME_ATTRS = {MOUNT_ATTR_RELATIME, MOUNT_ATTR_NOATIME, MOUNT_ATTR_STRICTATIME}

# classic flags of a bind mount expressed as mount_setattr attributes (top mount only)
_BIND_ATTRS: dict[str, tuple[bool, int]] = {
    "ro": (False, MOUNT_ATTR_RDONLY),
    "rw": (True, MOUNT_ATTR_RDONLY),
    "nosuid": (False, MOUNT_ATTR_NOSUID),
    "suid": (True, MOUNT_ATTR_NOSUID),
    "nodev": (False, MOUNT_ATTR_NODEV),
    "dev": (True, MOUNT_ATTR_NODEV),
    "noexec": (False, MOUNT_ATTR_NOEXEC),
    "exec": (True, MOUNT_ATTR_NOEXEC),
    "nodiratime": (False, MOUNT_ATTR_NODIRATIME),
    "diratime": (True, MOUNT_ATTR_NODIRATIME),
    "noatime": (False, MOUNT_ATTR_NOATIME),
    "relatime": (False, MOUNT_ATTR_RELATIME),
    "strictatime": (False, MOUNT_ATTR_STRICTATIME),
    "nosymfollow": (False, MOUNT_ATTR_NOSYMFOLLOW),
    "symfollow": (True, MOUNT_ATTR_NOSYMFOLLOW),
}

UNSUPPORTED: set[str] = set()

# idmapped mounts (runtime-spec 1.2): "idmap" maps the bind's top mount,
# "ridmap" every mount of an rbind tree (mount_setattr(MOUNT_ATTR_IDMAP),
# AT_RECURSIVE); neither goes to mount(2).  IDMAP_MOUNTS is what `features`
# reports as linux.mountExtensions.idmap.enabled.
IDMAP_OPTIONS = {"idmap", "ridmap"}
IDMAP_MOUNTS = True
MOUNT_ATTR_IDMAP = 0x100000
# the kernel's limit on the extents of one uid_map/gid_map
MAX_ID_EXTENTS = 340

# runc's extensions, not mount(2) options: tmpcopyup fills a new tmpfs with a
# copy of the directory it covers
EXTENSIONS = {"tmpcopyup"}


# plain classes: dataclasses costs ~6 ms to import on every create
class MountOptions:
    __slots__ = ("flags", "data", "propagation", "attr_set", "attr_clr", "rattr_set", "rattr_clr", "bind",
                 "recursive_bind", "unsupported", "copyup", "idmap", "ridmap")

    def __init__(
        self,
        flags: int = 0,
        data: list[str] | None = None,
        propagation: list[tuple[int, bool]] | None = None,
        attr_set: int = 0,  # top-level attributes (bind mounts)
        attr_clr: int = 0,
        rattr_set: int = 0,  # recursive attributes (r* options)
        rattr_clr: int = 0,
        bind: bool = False,
        recursive_bind: bool = False,
        unsupported: list[str] | None = None,
        copyup: bool = False,
        idmap: bool = False,  # "idmap" or "ridmap" given
        ridmap: bool = False,  # "ridmap": the whole tree
    ) -> None:
        self.flags = flags
        self.data = [] if data is None else data
        self.propagation = [] if propagation is None else propagation
        self.attr_set = attr_set
        self.attr_clr = attr_clr
        self.rattr_set = rattr_set
        self.rattr_clr = rattr_clr
        self.bind = bind
        self.recursive_bind = recursive_bind
        self.unsupported = [] if unsupported is None else unsupported
        self.copyup = copyup
        self.idmap = idmap
        self.ridmap = ridmap


def _attr(set_: int, clr: int, clear: bool, attr: int) -> tuple[int, int]:
    if attr in _ATIME_ATTRS:
        # atime attributes are a 3-value field: replace it as a whole
        clr |= MOUNT_ATTR__ATIME
        set_ &= ~MOUNT_ATTR__ATIME
        if not clear:
            set_ |= attr
        return set_, clr
    if clear:
        return set_ & ~attr, clr | attr
    return set_ | attr, clr & ~attr


def parse_options(options: list[str]) -> MountOptions:
    """Split a mount's options the way runc does: known flags, propagation,
    recursive attributes; everything else is filesystem data."""
    mo = MountOptions()
    for opt in options:
        if opt in FLAGS:
            clear, flag = FLAGS[opt]
            mo.flags = mo.flags & ~flag if clear else mo.flags | flag
            if opt == "bind":
                mo.bind = True
            elif opt == "rbind":
                mo.bind = mo.recursive_bind = True
            if opt in _BIND_ATTRS:
                c, a = _BIND_ATTRS[opt]
                mo.attr_set, mo.attr_clr = _attr(mo.attr_set, mo.attr_clr, c, a)
        elif opt in PROPAGATION:
            mo.propagation.append(PROPAGATION[opt])
        elif opt in RECURSIVE_ATTRS:
            c, a = RECURSIVE_ATTRS[opt]
            mo.rattr_set, mo.rattr_clr = _attr(mo.rattr_set, mo.rattr_clr, c, a)
        elif opt == "tmpcopyup":
            mo.copyup = True
        elif opt in IDMAP_OPTIONS:
            mo.idmap = True
            mo.ridmap = mo.ridmap or opt == "ridmap"
        elif opt in UNSUPPORTED:
            mo.unsupported.append(opt)
        else:
            mo.data.append(opt)
    return mo


def propagation_flags(name: str, recursive: bool = True) -> int:
    """rootfsPropagation value -> mount(2) flags for "/" (`recursive`
    False: without MS_REC even for the r* values)."""
    flag, rec = PROPAGATION[name]
    return flag | (MS_REC if rec and recursive else 0)


def _bad_id_mappings(maps: object, field: str) -> tuple[str, str] | None:
    """The first problem of one mount's uidMappings or gidMappings (what the
    kernel would refuse when the launcher writes them to a user namespace)."""
    if not isinstance(maps, list):
        return field, "must be a list of mappings"
    if len(maps) > MAX_ID_EXTENTS:
        return field, f"{len(maps)} mappings, the kernel takes at most {MAX_ID_EXTENTS}"
    seen: list[tuple[int, int, int]] = []
    for j, mp in enumerate(maps):
        f = f"{field}[{j}]"
        if not isinstance(mp, dict):
            return f, "must be an object with containerID, hostID and size"
        try:
            cid, hid, size = int(mp["containerID"]), int(mp["hostID"]), int(mp["size"])
        except (KeyError, TypeError, ValueError):
            return f, "needs containerID, hostID and size"
        if size < 1:
            return f"{f}.size", "must be at least 1"
        if cid + size > 1 << 32 or hid + size > 1 << 32:
            return f, f"ids {cid}+{size} / {hid}+{size} go past 4294967295"
        for k, (c2, h2, s2) in enumerate(seen):
            if cid < c2 + s2 and c2 < cid + size:
                return f"{f}.containerID", f"ids {cid}-{cid + size - 1} overlap {field}[{k}]"
            if hid < h2 + s2 and h2 < hid + size:
                return f"{f}.hostID", f"ids {hid}-{hid + size - 1} overlap {field}[{k}]"
        seen.append((cid, hid, size))
    return None


def idmap_problem(m: dict, opts: MountOptions, userns: bool, field: str) -> tuple[str, str] | None:
    """The first reason mount `m` (at `field`, e.g. "mounts[3]") cannot be
    idmapped as asked, as (field, message); None when it is not idmapped or
    is fine.  The runtime-spec (config.md, "idmap"/"ridmap"): the mount's
    own uidMappings/gidMappings, else the container's user namespace's, and
    an error when there is none of either; runc 1.2: bind mounts only, both
    lists or neither.  A mount with mappings of its own needs no user
    namespace in the container (the kernel does not)."""
    uid, gid = m.get("uidMappings"), m.get("gidMappings")
    if not (uid or gid or opts.idmap):
        return None
    bind = opts.bind or m.get("type") == "bind"
    if not bind:
        what = "idmap" if opts.idmap and not (uid or gid) else "uidMappings/gidMappings"
        return field, f"{what}: idmapped mounts are bind mounts only, not {m.get('type') or 'no type'!r}"
    if uid or gid:
        if not uid:
            return f"{field}.uidMappings", "an idmapped mount needs both uidMappings and gidMappings (gidMappings is set)"
        if not gid:
            return f"{field}.gidMappings", "an idmapped mount needs both uidMappings and gidMappings (uidMappings is set)"
        return _bad_id_mappings(uid, f"{field}.uidMappings") or _bad_id_mappings(gid, f"{field}.gidMappings")
    if not userns:
        opt = "ridmap" if opts.ridmap else "idmap"
        return f"{field}.options", (f"{opt} without uidMappings/gidMappings takes the container's user namespace "
                                     "mappings, and linux.namespaces has no user namespace")
    return None
