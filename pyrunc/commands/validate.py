from pyrunc.spec.validate import command  # noqa: F401
