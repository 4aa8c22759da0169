"""``python -m twin``: the ``twin`` command, for an environment without its script on
the PATH (the same click group as the ``twin`` entry point)."""

from twin.cli.main import cli

if __name__ == "__main__":
    cli(prog_name="twin")
