"""A runtime-agnostic OCI runtime-spec v1.3.0 conformance suite.

Run with ``python3 -m conformance --runtime PATH``.  Standard library only, so
the authors of any runtime with a runc-compatible command line can use it.
"""

SPEC_VERSION = "1.3.0"
