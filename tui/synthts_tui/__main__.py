"""``python -m synthts_tui [--api URL]``: the same as ``synthts tui``."""

from synthts_tui.plugin import command

if __name__ == "__main__":
    command(prog_name="python -m synthts_tui")
