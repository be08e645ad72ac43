"""The `vlm-robot` command (cli.py) and its subcommands: demo, replay, ask, models, calibrate, suites."""
