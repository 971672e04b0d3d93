def main() -> None:
    from pyrunc.cli import main as cli

    cli(prog_name="pyrunc")


if __name__ == "__main__":
    main()
