"""``python -m synthts_tui [--api URL]``: the same as ``synthts tui``."""

from synthts_core.cli.commands.tui import command

if __name__ == "__main__":
    command(prog_name="python -m synthts_tui")
