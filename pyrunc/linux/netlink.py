"""rtnetlink from Python (AF_NETLINK sockets, struct) for `linux.netDevices`
(runtime-spec 1.3.0, config-linux.md "Network Devices"): move a named host
interface into the container's network namespace, renamed when `name` is
given, with its permanent global addresses re-added (the kernel drops them
on a namespace move), and set it up.  No iproute2.

Why here and not in the C init: the move is a request on a socket in the
runtime's namespace naming the container's namespace by fd, which the
runtime has (/proc/<init>/ns/net); the re-adding of addresses and the link
up need a socket inside that namespace, made by a setns of this thread
around socket() (the socket keeps its namespace).  The init stays small and
the errors are Python's typed ones.  create does it at the hooks sync point,
after the init made its namespaces and before the prestart hooks, like runc
(which does it in its parent before the process starts).

At delete nothing is moved back: the spec says the runtime MUST NOT (runc
1.3 does not); when the namespace goes, the kernel returns physical devices
to the initial namespace and destroys virtual ones (a veth with its peer).
A create that fails after the move does move them back (restore())."""
from __future__ import annotations

import errno as _errno
import os
import socket
import struct

from pyrunc.errors import ConfigError, PyruncError

NETLINK_ROUTE = 0
RTM_NEWLINK, RTM_GETLINK = 16, 18
RTM_NEWADDR, RTM_GETADDR = 20, 22
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_REQUEST, NLM_F_MULTI, NLM_F_ACK, NLM_F_DUMP = 0x1, 0x2, 0x4, 0x300
NLM_F_EXCL, NLM_F_CREATE = 0x200, 0x400
IFLA_IFNAME, IFLA_NET_NS_FD = 3, 28
IFA_ADDRESS, IFA_LOCAL, IFA_BROADCAST, IFA_FLAGS = 1, 2, 4, 8
IFF_UP = 0x1
IFA_F_PERMANENT = 0x80
# flags a user sets on an address (ip addr add ... nodad noprefixroute ...)
IFA_F_USER = 0x02 | 0x10 | 0x100 | 0x200
RT_SCOPE_UNIVERSE = 0
CLONE_NEWNET = 0x40000000

_NLMSGHDR = struct.Struct("=IHHII")
_IFINFOMSG = struct.Struct("=BxHiII")
_IFADDRMSG = struct.Struct("=BBBBi")
_RTATTR = struct.Struct("=HH")


class NetlinkError(PyruncError):
    """An rtnetlink request failed: what was asked, and the kernel's errno."""

    def __init__(self, what: str, err: int) -> None:
        self.what = what
        self.errno = err
        super().__init__(f"{what}: {os.strerror(err).lower() if err else 'unexpected reply'}")


def _align(n: int) -> int:
    return (n + 3) & ~3


def _attr(kind: int, data: bytes) -> bytes:
    return (_RTATTR.pack(_RTATTR.size + len(data), kind) + data).ljust(_align(_RTATTR.size + len(data)), b"\0")


def _attrs(data: bytes) -> dict[int, bytes]:
    out: dict[int, bytes] = {}
    while len(data) >= _RTATTR.size:
        length, kind = _RTATTR.unpack_from(data)
        if length < _RTATTR.size:
            break
        out[kind & 0x3FFF] = data[_RTATTR.size:length]
        data = data[_align(length):]
    return out


def _setns(fd: int) -> None:
    setns = getattr(os, "setns", None)  # Python 3.12+
    if setns is not None:
        setns(fd, CLONE_NEWNET)
        return
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


class Addr:
    """An interface address as rtnetlink gives it (the attributes needed to add it back)."""

    __slots__ = ("family", "prefixlen", "flags", "scope", "local", "address", "broadcast")

    def __init__(self, family: int, prefixlen: int, flags: int, scope: int, local: bytes | None,
                 address: bytes | None, broadcast: bytes | None) -> None:
        self.family, self.prefixlen, self.flags, self.scope = family, prefixlen, flags, scope
        self.local, self.address, self.broadcast = local, address, broadcast

    def __str__(self) -> str:
        raw = self.local or self.address or b""
        return f"{socket.inet_ntop(self.family, raw)}/{self.prefixlen}" if raw else f"?/{self.prefixlen}"


class RtNetlink:
    """A NETLINK_ROUTE socket in this thread's network namespace, or (netns_fd)
    in that one."""

    def __init__(self, netns_fd: int | None = None) -> None:
        self.seq = 0
        if netns_fd is None:
            self.sock = self._open()
            return
        own = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        try:
            _setns(netns_fd)
            try:
                self.sock = self._open()
            finally:
                _setns(own)  # if this failed, the thread would stay in the container's namespace
        finally:
            os.close(own)

    @staticmethod
    def _open() -> socket.socket:
        s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, NETLINK_ROUTE)
        s.bind((0, 0))
        return s

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> "RtNetlink":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, what: str, kind: int, flags: int, body: bytes) -> list[tuple[int, bytes]]:
        """Send one request and collect the replies (type, payload) until its
        ACK or the end of its dump.  An error reply raises NetlinkError."""
        self.seq += 1
        seq = self.seq
        self.sock.send(_NLMSGHDR.pack(_NLMSGHDR.size + len(body), kind, flags | NLM_F_REQUEST, seq, 0) + body)
        out: list[tuple[int, bytes]] = []
        while True:
            data = self.sock.recv(1 << 16)
            while len(data) >= _NLMSGHDR.size:
                length, mtype, mflags, mseq, _pid = _NLMSGHDR.unpack_from(data)
                if length < _NLMSGHDR.size:
                    raise NetlinkError(what, 0)
                payload = data[_NLMSGHDR.size:length]
                data = data[_align(length):]
                if mseq != seq:
                    continue
                if mtype == NLMSG_ERROR:
                    (err,) = struct.unpack_from("=i", payload)
                    if err:
                        raise NetlinkError(what, -err)
                    return out  # the ACK
                if mtype == NLMSG_DONE:
                    return out
                out.append((mtype, payload))
                if not (mflags & NLM_F_MULTI) and not (flags & NLM_F_ACK):
                    return out

    # ------------------------------------------------------------ links

    def links(self) -> dict[str, int]:
        """Every interface of the namespace: name -> index."""
        out = {}
        for mtype, payload in self.request("listing network devices", RTM_GETLINK, NLM_F_DUMP,
                                           _IFINFOMSG.pack(0, 0, 0, 0, 0)):
            if mtype != RTM_NEWLINK:
                continue
            _fam, _type, index, _flags, _change = _IFINFOMSG.unpack_from(payload)
            name = _attrs(payload[_IFINFOMSG.size:]).get(IFLA_IFNAME, b"").rstrip(b"\0").decode(errors="replace")
            out[name] = index
        return out

    def link(self, name: str) -> tuple[int, int] | None:
        """(index, flags) of the interface named `name`, None if there is none."""
        body = _IFINFOMSG.pack(0, 0, 0, 0, 0) + _attr(IFLA_IFNAME, name.encode() + b"\0")
        try:
            replies = self.request(f"network device {name}", RTM_GETLINK, 0, body)
        except NetlinkError as e:
            if e.errno == _errno.ENODEV:
                return None
            raise
        for mtype, payload in replies:
            if mtype == RTM_NEWLINK:
                _fam, _type, index, flags, _change = _IFINFOMSG.unpack_from(payload)
                return index, flags
        return None

    def set_up(self, index: int, up: bool, name: str) -> None:
        body = _IFINFOMSG.pack(0, 0, index, IFF_UP if up else 0, IFF_UP)
        self.request(f"setting network device {name} {'up' if up else 'down'}", RTM_NEWLINK, NLM_F_ACK, body)

    def move(self, index: int, netns_fd: int, new_name: str, what: str) -> None:
        """Into the namespace of `netns_fd`, renamed (one request: no window
        where the name could clash)."""
        body = (_IFINFOMSG.pack(0, 0, index, 0, 0) + _attr(IFLA_IFNAME, new_name.encode() + b"\0")
                + _attr(IFLA_NET_NS_FD, struct.pack("=I", netns_fd)))
        self.request(what, RTM_NEWLINK, NLM_F_ACK, body)

    # ------------------------------------------------------------ addresses

    def addresses(self, index: int) -> list[Addr]:
        out = []
        for mtype, payload in self.request("listing addresses", RTM_GETADDR, NLM_F_DUMP,
                                           _IFADDRMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0)):
            if mtype != RTM_NEWADDR:
                continue
            family, prefixlen, flags, scope, ifindex = _IFADDRMSG.unpack_from(payload)
            if ifindex != index:
                continue
            attrs = _attrs(payload[_IFADDRMSG.size:])
            if IFA_FLAGS in attrs:
                (flags,) = struct.unpack_from("=I", attrs[IFA_FLAGS])
            out.append(Addr(family, prefixlen, flags, scope, attrs.get(IFA_LOCAL), attrs.get(IFA_ADDRESS),
                            attrs.get(IFA_BROADCAST)))
        return out

    def add_address(self, index: int, a: Addr, dev: str) -> None:
        flags = a.flags & IFA_F_USER
        body = _IFADDRMSG.pack(a.family, a.prefixlen, flags & 0xFF, a.scope, index)
        for kind, value in ((IFA_LOCAL, a.local), (IFA_ADDRESS, a.address), (IFA_BROADCAST, a.broadcast)):
            if value:
                body += _attr(kind, value)
        if flags > 0xFF:
            body += _attr(IFA_FLAGS, struct.pack("=I", flags))
        self.request(f"adding address {a} to network device {dev}", RTM_NEWADDR,
                     NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, body)


def movable_addresses(addrs: list[Addr]) -> list[Addr]:
    """The addresses the spec says move along: permanent, global scope."""
    return [a for a in addrs if a.flags & IFA_F_PERMANENT and a.scope == RT_SCOPE_UNIVERSE]


class Moved:
    """A device moved into the container: enough to put it back."""

    __slots__ = ("host_name", "inner_name", "was_up", "addrs")

    def __init__(self, host_name: str, inner_name: str, was_up: bool, addrs: list[Addr]) -> None:
        self.host_name, self.inner_name, self.was_up, self.addrs = host_name, inner_name, was_up, addrs


def _field(host: str) -> str:
    return f"linux.netDevices.{host}"


def move_devices(devices: dict[str, dict], netns_path: str) -> list[Moved]:
    """Move each `linux.netDevices` entry into the namespace at `netns_path`.
    Everything is checked before anything moves: a device missing on the
    host, a name taken in the container's namespace (or twice in the
    config), so bad input leaves the host as it was.  A failure after some
    moved puts those back before raising."""
    ns_fd = os.open(netns_path, os.O_RDONLY | os.O_CLOEXEC)
    moved: list[Moved] = []
    try:
        with RtNetlink() as host, RtNetlink(ns_fd) as inner:
            plan = []
            taken = inner.links()
            wanted: dict[str, str] = {}
            for name, dev in devices.items():
                new = (dev or {}).get("name") or name
                found = host.link(name)
                if found is None:
                    raise ConfigError(_field(name), f"no network device named {name} in the runtime's network namespace")
                if "%d" not in new:
                    if new in taken:
                        raise ConfigError(_field(name) + (".name" if (dev or {}).get("name") else ""),
                                          f"a network device named {new} already exists in the container's "
                                          "network namespace")
                    if new in wanted:
                        raise ConfigError(_field(name), f"{wanted[new]} is also to be named {new}")
                    wanted[new] = name
                plan.append((name, new, found))
            try:
                for name, new, (index, flags) in plan:
                    addrs = movable_addresses(host.addresses(index))
                    before = set(inner.links()) if "%d" in new else set()
                    if flags & IFF_UP:
                        host.set_up(index, False, name)
                    try:
                        host.move(index, ns_fd, new, f"moving network device {name} into the container as {new}")
                    except NetlinkError:
                        if flags & IFF_UP:
                            host.set_up(index, True, name)
                        raise
                    if "%d" in new:
                        new = next(iter(set(inner.links()) - before), new)
                    m = Moved(name, new, bool(flags & IFF_UP), addrs)
                    moved.append(m)
                    _configure(inner, m, f"in the container as {new}")
            except BaseException:
                restore(moved, ns_fd)
                raise
    finally:
        os.close(ns_fd)
    return moved


def _configure(nl: RtNetlink, m: Moved, where: str, name: str | None = None, up: bool = True) -> None:
    """Re-add the addresses and set the link up, in `nl`'s namespace."""
    name = name or m.inner_name
    found = nl.link(name)
    if found is None:
        raise NetlinkError(f"network device {m.host_name} {where}", _errno.ENODEV)
    for a in m.addrs:
        try:
            nl.add_address(found[0], a, name)
        except NetlinkError as e:
            if e.errno != _errno.EEXIST:
                raise
    if up:
        nl.set_up(found[0], True, name)


def restore(moved: list[Moved], ns_fd: int) -> list[str]:
    """Put moved devices back into this thread's namespace under their host
    names, with their addresses and up state (a create that failed).
    Best effort: returns what could not be restored."""
    problems = []
    if not moved:
        return problems
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        with RtNetlink() as host, RtNetlink(ns_fd) as inner:
            for m in reversed(moved):
                try:
                    found = inner.link(m.inner_name)
                    if found is None:
                        raise NetlinkError(f"network device {m.inner_name} in the container", _errno.ENODEV)
                    inner.set_up(found[0], False, m.inner_name)
                    inner.move(found[0], own, m.host_name, f"moving network device {m.inner_name} back to the host")
                    _configure(host, m, "back on the host", name=m.host_name, up=m.was_up)
                except (OSError, PyruncError) as e:
                    problems.append(str(e))
    finally:
        os.close(own)
    return problems
