"""Talking to systemd's manager over D-Bus, for the systemd cgroup driver.

The client is jeepney (pure Python, maintained, no C build; it does the
wire protocol and the SASL handshake).  It is imported only here, and this
module only by the systemd driver when it must talk to systemd (create,
update, delete): the cgroupfs driver and the hot commands never load it.

Like systemctl (and crun) as root, we talk to PID 1 directly on its private
socket /run/systemd/private (no dbus-daemon needed, no Hello); without it,
over the system bus.  Jobs are waited for through the JobRemoved signal that
systemd sends to the client that queued the job."""
from __future__ import annotations

import os

from pyrunc.errors import CgroupError

PRIVATE_SOCKET = "/run/systemd/private"
SYSTEM_BUS_SOCKET = "/run/dbus/system_bus_socket"
_DEST = "org.freedesktop.systemd1"
_PATH = "/org/freedesktop/systemd1"
_MGR = "org.freedesktop.systemd1.Manager"
JOB_TIMEOUT = 30.0  # runc waits 30 s for a unit job too


class SystemdBus:
    """One connection to systemd's manager."""

    def __init__(self, conn, socket_path: str, on_bus: bool) -> None:
        self.conn = conn
        self.socket_path = socket_path
        self.on_bus = on_bus

    @classmethod
    def connect(cls) -> "SystemdBus":
        from jeepney.io.blocking import DBusConnection, DBusConnectionBase, prep_socket
        from jeepney.io.common import MessageFilters

        class _PeerConnection(DBusConnection):
            """A direct connection to systemd (no bus daemon: no Hello)."""

            def __init__(self, sock) -> None:
                DBusConnectionBase.__init__(self, sock, False)
                self._filters = MessageFilters()

        errors = []
        candidates = []
        if os.geteuid() == 0:
            candidates.append((PRIVATE_SOCKET, False))
        bus = os.environ.get("DBUS_SYSTEM_BUS_ADDRESS", "")
        bus_path = bus[len("unix:path="):].split(",")[0] if bus.startswith("unix:path=") else SYSTEM_BUS_SOCKET
        candidates.append((bus_path, True))
        for path, on_bus in candidates:
            try:
                # PID 1 answers late when busy (a loaded host; TCG): as patient as for a job
                sock = prep_socket(path, False, timeout=JOB_TIMEOUT)
            except (OSError, ValueError) as e:  # jeepney's auth errors are ValueErrors
                errors.append(f"{path}: {e}")
                continue
            try:
                conn = DBusConnection(sock) if on_bus else _PeerConnection(sock)
            except Exception as e:  # noqa: BLE001 - a broken peer: try the next socket
                sock.close()
                errors.append(f"{path}: {e}")
                continue
            return cls(conn, path, on_bus)
        raise CgroupError(candidates[0][0], "systemd is not reachable over D-Bus (" + "; ".join(errors) + ")")

    def close(self) -> None:
        try:
            self.conn.close()
        except OSError:
            pass

    # -- calls ------------------------------------------------------------
    def _call(self, method: str, signature: str, body: tuple, what: str):
        from jeepney import new_method_call
        from jeepney.low_level import MessageType

        msg = new_method_call(_addr(), method, signature, body)
        try:
            reply = self.conn.send_and_get_reply(msg, timeout=JOB_TIMEOUT)
        except (OSError, TimeoutError) as e:
            raise CgroupError(self.socket_path, f"{what}: {method}: {e}") from None
        if reply.header.message_type == MessageType.error:
            from jeepney.low_level import HeaderFields

            name = reply.header.fields.get(HeaderFields.error_name, "error")
            text = reply.body[0] if reply.body else ""
            raise DBusError(self.socket_path, f"{what}: {name}: {text}", name)
        return reply.body

    def _job(self, method: str, signature: str, body: tuple, what: str) -> str:
        """Queue a job and wait until systemd reports it removed; its result."""
        from jeepney import MatchRule

        rule = MatchRule(type="signal", interface=_MGR, member="JobRemoved", path=_PATH)
        with self.conn.filter(rule, bufsize=256) as queue:
            if self.on_bus:
                from jeepney.bus_messages import message_bus

                self.conn.send_and_get_reply(message_bus.AddMatch(rule), timeout=JOB_TIMEOUT)
            (job,) = self._call(method, signature, body, what)
            import time

            deadline = time.monotonic() + JOB_TIMEOUT
            while True:
                left = deadline - time.monotonic()
                try:
                    if left <= 0:
                        raise TimeoutError
                    sig = self.conn.recv_until_filtered(queue, timeout=left)
                except TimeoutError:
                    raise CgroupError(self.socket_path, f"{what}: timed out waiting for systemd job {job}") from None
                _id, path, _unit, result = sig.body
                if path == job:
                    return result

    def start_transient_unit(self, unit: str, props: list) -> None:
        res = self._job("StartTransientUnit", "ssa(sv)a(sa(sv))", (unit, "replace", props, []),
                        f"starting {unit}")
        if res != "done":
            raise CgroupError(unit, f"systemd could not start the transient unit: job {res}")

    def set_unit_properties(self, unit: str, props: list) -> None:
        if props:
            self._call("SetUnitProperties", "sba(sv)", (unit, True, props), f"setting properties of {unit}")

    def stop_unit(self, unit: str) -> None:
        try:
            self._job("StopUnit", "ss", (unit, "replace"), f"stopping {unit}")
        except DBusError as e:
            if e.name != "org.freedesktop.systemd1.NoSuchUnit":
                raise

    def reset_failed_unit(self, unit: str) -> None:
        try:
            self._call("ResetFailedUnit", "s", (unit,), f"resetting {unit}")
        except DBusError:
            pass  # not failed, or already gone: nothing to reset


class DBusError(CgroupError):
    def __init__(self, path: str, message: str, name: str) -> None:
        super().__init__(path, message)
        self.name = name


def _addr():
    from jeepney import DBusAddress

    return DBusAddress(_PATH, bus_name=_DEST, interface=_MGR)
