"""The rootfs bind of a container without a mount namespace of its own.

runc (1.1) makes such a container's mounts in its caller's mount namespace
and leaves them there after delete.  pyrunc makes them under one private
bind of the rootfs (csrc/init/mount.c op_rootfs), whose mount id the init
reports; `delete` (and a failed create) detach that very mount, and with it
everything the container mounted under it.  Only containers without a mount
namespace come here: the hot commands never import this module otherwise."""
from __future__ import annotations

import os

from pyrunc.errors import PyruncError

MNT_DETACH = 2


def _mount_id_of_fd(fd: int) -> int | None:
    with open(f"/proc/self/fdinfo/{fd}") as f:
        for line in f:
            if line.startswith("mnt_id:"):
                return int(line.split()[1])
    return None


def _mounted_ids() -> set[int]:
    with open("/proc/self/mountinfo") as f:
        return {int(line.split(" ", 1)[0]) for line in f}


def detach(path: str, mnt_id: int) -> None:
    """Detach mount `mnt_id` if it is still the mount at `path`; a mount
    that is gone already is fine.  Raises PyruncError naming the path when
    the mount is there but cannot be detached."""
    if mnt_id not in _mounted_ids():
        return
    try:
        fd = os.open(path, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError as e:
        raise PyruncError(f"{path}: the container's rootfs mount (id {mnt_id}) cannot be reached: "
                          f"{e.strerror}") from None
    try:
        if _mount_id_of_fd(fd) != mnt_id:
            raise PyruncError(f"{path}: another mount covers the container's rootfs mount (id {mnt_id}); "
                              "left in place")
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        # through the fd: exactly this mount, whatever the path resolves to now
        if libc.umount2(f"/proc/self/fd/{fd}".encode(), MNT_DETACH) != 0:
            err = ctypes.get_errno()
            raise PyruncError(f"{path}: detaching the container's rootfs mount: {os.strerror(err)}")
    finally:
        os.close(fd)
