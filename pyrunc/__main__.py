import sys


def main() -> None:
    # the commands a container manager calls on every container skip click
    from pyrunc.fastcli import dispatch

    code = dispatch(sys.argv[1:])
    if code is not None:
        sys.exit(code)
    from pyrunc.cli import main as cli

    cli(prog_name="pyrunc")


if __name__ == "__main__":
    main()
