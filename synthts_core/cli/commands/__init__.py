"""One module per ``synthts`` subcommand; each exposes ``command``. Keep heavy imports inside
the command functions."""
