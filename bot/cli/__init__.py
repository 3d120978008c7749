"""``python -m bot``: the command line, one module per concern; :mod:`bot.cli.main` builds the parser."""
