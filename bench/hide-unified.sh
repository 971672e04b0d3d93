#!/bin/sh
# Run a command with the cgroup2 hierarchy of a hybrid-cgroup host hidden, so
# runtimes that refuse hybrid mode (crun: "cgroups in hybrid mode not
# supported") see a plain cgroup v1 host. Needs its own mount namespace:
#   unshare -m bench/hide-unified.sh /usr/bin/crun --root R run ID
# unshare -m makes mounts private, so the host keeps its mount.
umount -l /sys/fs/cgroup/unified 2>/dev/null
exec "$@"
