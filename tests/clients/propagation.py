"""Volume propagation seen through a client (podman, docker): the same
probe for runc and pyrunc.  The "host" is the sandbox's private mount
namespace (harness.Sandbox), where the volume's source is a tmpfs made
shared, so a client's `:rshared`/`:rslave` has a peer group to join."""
from __future__ import annotations

import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path

from tests.clients.harness import Sandbox

Exec = Callable[[str], subprocess.CompletedProcess]


def shared_source(sb: Sandbox, tag: str) -> Path:
    """A fresh tmpfs on a new directory in the sandbox, made shared."""
    src = sb.dir / f"vol-{tag}-{uuid.uuid4().hex[:6]}"
    src.mkdir()
    sb.run(["mount", "-t", "tmpfs", "-o", "mode=755", f"pv-{tag}", str(src)], check=True)
    sb.run(["mount", "--make-shared", str(src)], check=True)
    return src


def mounts_under(sb: Sandbox, path: Path) -> list[str]:
    """Mount points at or under `path` in the sandbox's namespace."""
    with open(f"/proc/{sb.holder.pid}/mountinfo") as f:
        points = [line.split()[4] for line in f]
    p = str(path)
    return [m for m in points if m == p or m.startswith(p + "/")]


def unmount_all(sb: Sandbox, path: Path) -> list[str]:
    """umount -R `path` (it and whatever propagated under it); returns what is left."""
    for _ in range(3):
        if not mounts_under(sb, path):
            break
        sb.run(["umount", "-R", "-l", str(path)])
    return mounts_under(sb, path)


def probe(sb: Sandbox, src: Path, exec_: Exec, dest: str = "/vol") -> dict:
    """What propagates, with a container already running with `src` on
    `dest`: the propagation tags of `dest` inside (peer ids dropped),
    whether a mount made inside reaches the host and whether one made on
    the host after start appears inside."""
    r = exec_(f"grep ' {dest} ' /proc/self/mountinfo")
    assert r.returncode == 0, r.stderr
    line = r.stdout.splitlines()[0]
    tags = sorted(f.split(":")[0] for f in line.split(" - ")[0].split()[6:])
    r = exec_(f"mkdir -p {dest}/in && mount -t tmpfs inner {dest}/in && echo from-inside > {dest}/in/f && cat {dest}/in/f")
    assert r.stdout == "from-inside\n", f"mount inside failed: {r.stdout!r} {r.stderr!r}"
    seen_on_host = sb.run(["cat", f"{src}/in/f"]).stdout == "from-inside\n"
    sb.run(["sh", "-c", f"mkdir {src}/h && mount -t tmpfs hostm {src}/h && echo from-host > {src}/h/f"], check=True)
    seen_inside = exec_(f"cat {dest}/h/f").stdout == "from-host\n"
    return {"tags": tags, "inside mount reaches host": seen_on_host, "host mount appears inside": seen_inside}
