"""Side-by-side benchmarks of OCI runtimes (pyrunc, runc, crun, ...) driven
through their runc-compatible command line. Standard library only.

    python3 -m bench --runtime pyrunc="python3 -m pyrunc" --runtime runc=/usr/sbin/runc

See docs/benchmarks.md."""
