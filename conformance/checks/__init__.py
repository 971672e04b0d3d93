"""Checks, one module per area; importing this package registers them in order."""
from . import lifecycle, process, filesystem, namespaces, devices, security, cgroups, hooks  # noqa: F401
