"""The ``twin`` command group.

Commands are registered by name -> "module:function" and imported lazily, so that
``twin --help`` stays fast and a command's heavy dependencies load only when it runs.
"""

from __future__ import annotations

import importlib
import logging
import sys
from typing import Any

import click

from twin import __version__
from twin.cli.options import WRITTEN_KEY, catch_interrupts, check_interrupt, mark_written
from twin.errors import TwinError
from twin.io.atomic import on_commit

#: command name -> "module:attribute" of a click.Command
COMMANDS: dict[str, str] = {
    "bench": "twin.cli.bench:bench",
    "link": "twin.cli.link:link",
    "paper": "twin.cli.paper:paper",
    "run": "twin.cli.run:run",
    "info": "twin.cli.info:info",
    "compare": "twin.cli.compare:compare",
    "optimize": "twin.cli.optimize:optimize",
    "dsm": "twin.cli.dsm:dsm",
    "viewshed": "twin.cli.viewshed:viewshed",
}


class LazyGroup(click.Group):
    """A click group that imports each command module on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        command = getattr(importlib.import_module(module_name), attr)
        assert isinstance(command, click.Command)
        return command

    def invoke(self, ctx: click.Context) -> Any:
        with catch_interrupts(), on_commit(mark_written):
            try:
                result = super().invoke(ctx)
                check_interrupt()  # one that Python swallowed (see catch_interrupts)
                return result
            except TwinError as exc:
                click.echo(f"twin: error: {exc}", err=True)
                sys.exit(2)
            except KeyboardInterrupt:
                # 128 + SIGINT, the shell's convention (click said "Aborted!", exit 1).
                # Outputs are built in temporary folders removed on the way out
                # (twin.io.atomic), so an interrupted command leaves none behind; one
                # interrupted after its output was renamed into place says where it wrote.
                written = ctx.meta.get(WRITTEN_KEY)
                what = f"{written} was written" if written else "nothing was written"
                click.echo(f"\ntwin: interrupted: {what}", err=True)
                sys.exit(130)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="twin")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors.")
def cli(verbose: int, quiet: bool) -> None:
    """twin: a digital twin of a city for radio coverage and spectrum planning.

    OSM buildings and streets -> receiver grid -> sites -> LoS/indoor -> TR 38.901 path
    loss -> SINR and Shannon capacity per band -> GeoJSON, GeoPackage, GeoTIFF, web map.
    """
    level = logging.WARNING if quiet else (logging.DEBUG if verbose >= 2 else logging.INFO)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", force=True)
    # third-party libraries stay quiet unless asked for debug output
    for noisy in ("fiona", "rasterio", "pyogrio", "numba", "distributed", "matplotlib"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbose >= 3 else logging.WARNING)


def main() -> None:  # pragma: no cover - console entry point convenience
    cli()
