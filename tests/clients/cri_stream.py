"""The kubelet's side of CRI streaming (Exec/Attach URLs), over websocket
with the `v4.channel.k8s.io` subprotocol: each binary message is one byte of
channel (0 stdin, 1 stdout, 2 stderr, 3 error, 4 resize) and the payload.
v4's error channel carries a metav1.Status (exit code in details.causes).

A minimal RFC 6455 client on the standard library: client frames masked,
no extensions, no fragmentation of what it sends."""
from __future__ import annotations

import base64
import json
import os
import socket
import struct
from urllib.parse import urlsplit

STDIN, STDOUT, STDERR, ERROR, RESIZE = range(5)
PROTOCOL = "v4.channel.k8s.io"


class WebSocketError(Exception):
    pass


class ChannelStream:
    def __init__(self, url: str, timeout: float = 60.0) -> None:
        u = urlsplit(url)
        self.sock = socket.create_connection((u.hostname, u.port or 80), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        path = u.path + (f"?{u.query}" if u.query else "")
        self.sock.sendall((
            f"GET {path} HTTP/1.1\r\nHost: {u.netloc}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: {PROTOCOL}\r\n\r\n"
        ).encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(1)
            if not chunk:
                raise WebSocketError(f"connection closed during the handshake: {head!r}")
            head += chunk
        status = head.split(b"\r\n", 1)[0]
        if b" 101 " not in status + b" ":
            raise WebSocketError(f"handshake refused: {head.decode(errors='replace')}")
        headers = {k.strip().lower(): v.strip() for k, _, v in
                   (line.partition(":") for line in head.decode().split("\r\n")[1:] if line)}
        if headers.get("sec-websocket-protocol") != PROTOCOL:
            raise WebSocketError(f"server chose protocol {headers.get('sec-websocket-protocol')!r}")

    def _recv_exact(self, n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise EOFError
            buf += chunk
        return buf

    def _send_frame(self, opcode: int, payload: bytes) -> None:
        n = len(payload)
        head = bytes([0x80 | opcode])
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 1 << 16:
            head += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack(">Q", n)
        mask = os.urandom(4)
        self.sock.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def send(self, channel: int, data: bytes) -> None:
        self._send_frame(0x2, bytes([channel]) + data)

    def resize(self, width: int, height: int) -> None:
        self.send(RESIZE, json.dumps({"Width": width, "Height": height}).encode())

    def recv(self) -> tuple[int, bytes] | None:
        """(channel, data) of the next data message; None once closed."""
        while True:
            try:
                b0, b1 = self._recv_exact(2)
            except EOFError:
                return None
            opcode, n = b0 & 0x0F, b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._recv_exact(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._recv_exact(8))[0]
            mask = self._recv_exact(4) if b1 & 0x80 else b""
            payload = self._recv_exact(n)
            if mask:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            if opcode == 0x8:
                return None
            if opcode == 0x9:
                self._send_frame(0xA, payload)
                continue
            if opcode in (0x1, 0x2) and payload:
                return payload[0], payload[1:]

    def collect(self, until: bytes | None = None) -> tuple[bytes, bytes, dict | None]:
        """Read to the end (or until `until` shows on stdout): (stdout,
        stderr, the error channel's Status or None)."""
        out, err, status = b"", b"", None
        while True:
            msg = self.recv()
            if msg is None:
                break
            ch, data = msg
            if ch == STDOUT:
                out += data
            elif ch == STDERR:
                err += data
            elif ch == ERROR and data:
                status = json.loads(data)
            if until is not None and until in out:
                break
        return out, err, status

    def close(self) -> None:
        try:
            self._send_frame(0x8, b"")
        except OSError:
            pass
        self.sock.close()


def exit_code(status: dict | None) -> int:
    """The exit code a v4 Status reports (0 for Success)."""
    if status is None:
        raise WebSocketError("no status on the error channel")
    if status.get("status") == "Success":
        return 0
    for cause in status.get("details", {}).get("causes", []):
        if cause.get("reason") == "ExitCode":
            return int(cause["message"])
    raise WebSocketError(f"no exit code in {status}")
