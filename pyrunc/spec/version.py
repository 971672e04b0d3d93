"""The runtime-spec version pyrunc implements (cheap to import)."""

OCI_VERSION = "1.3.0"
