"""One module per ``qmixbench`` subcommand (see ``qmixbench.cli.COMMANDS``)."""
