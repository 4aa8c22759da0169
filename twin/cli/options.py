"""Options and helpers shared by several commands."""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import click
from click.core import ParameterSource

import twin
from twin.errors import ScenarioError

if TYPE_CHECKING:
    from twin.scenario import Scenario

DEFAULT_SCENARIO = "scenarios/default.toml"

#: key of the click context's ``meta`` naming what a command has written (for the
#: message of an interrupted command)
WRITTEN_KEY = "twin.written"


def mark_written(path: str | os.PathLike[str]) -> None:
    """Note that the current command has put ``path`` in place (complete): a Ctrl-C after
    this says so instead of "nothing was written"."""
    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        ctx.meta[WRITTEN_KEY] = str(path)


def command_line(ctx: click.Context) -> str:
    """The command as it was given, for the outputs' provenance: ``twin``, the command's
    name and each of its parameters given on the command line or by an environment
    variable (not those left at their defaults), in the command's order, quoted for a
    POSIX shell (``twin run scenarios/monaco-terrain.toml --terrain flat``)."""
    words = ["twin", ctx.info_name or ctx.command.name or ""]
    given = (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT)
    for param in ctx.command.get_params(ctx):
        name = param.name
        if name is None or name not in ctx.params or ctx.get_parameter_source(name) not in given:
            continue
        value = ctx.params[name]
        values = list(value) if isinstance(value, tuple | list) else [value]
        if isinstance(param, click.Argument):
            words += [str(v) for v in values if v is not None]
        elif isinstance(param, click.Option):
            if param.is_flag and not param.count:
                if value:
                    words.append(param.opts[0])
                elif param.secondary_opts:
                    words.append(param.secondary_opts[0])
            elif param.count:
                words += [param.opts[0]] * int(value)
            else:
                for v in values:
                    words += [param.opts[0], str(v)]
    return shlex.join(words)


def default_scenario_path() -> Path:
    """``scenarios/default.toml`` in the working directory, else in the source checkout."""
    here = Path(DEFAULT_SCENARIO)
    if here.is_file():
        return here
    repo = Path(twin.__file__).resolve().parent.parent / DEFAULT_SCENARIO
    if repo.is_file():
        return repo
    raise ScenarioError(
        f"no scenario given and no {DEFAULT_SCENARIO} found in the working directory or "
        "next to the twin package; pass a scenario file"
    )


def scenario_inputs(path: str | os.PathLike[str], scenario: Scenario) -> dict[str, str]:
    """The files a study reads (its scenario file, a city file, a terrain file, a sites
    file), by name for :func:`twin.io.atomic.check_not_inside`: an output folder holding
    one of them would lose it to ``--overwrite``."""
    inputs = {"the scenario file": str(path)}
    source = scenario.city.source
    if not source.startswith(("place:", "bbox:")):
        inputs["the city file"] = source
    if scenario.city.terrain is not None:
        inputs["the terrain file"] = scenario.city.terrain
    if scenario.sites.file is not None:
        inputs["the sites file"] = scenario.sites.file
    return inputs


_interrupted = threading.Event()


def _on_sigint(signum: int, frame: FrameType | None) -> None:
    _interrupted.set()
    raise KeyboardInterrupt


@contextlib.contextmanager
def catch_interrupts() -> Iterator[None]:
    """Remember a Ctrl-C (SIGINT) for :func:`check_interrupt`, as well as raising
    :class:`KeyboardInterrupt`.

    Python raises it wherever the main thread is, and one raised in a finalizer or a
    callback (a lock's release at a fork, a weakref's callback) is printed as "Exception
    ignored" and lost: the command would go on and write its output (1 interrupt in 4
    while ``twin run`` wrote its outputs). Such a one is remembered here, its traceback
    not printed, and raised again by :func:`check_interrupt`. The handler is installed
    only over Python's default one, in the main thread, and put back after.
    """
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):
        yield
        return
    _interrupted.clear()
    signal.signal(signal.SIGINT, _on_sigint)
    previous_hook = sys.unraisablehook

    def quiet(info: sys.UnraisableHookArgs) -> None:
        # a swallowed Ctrl-C is remembered: no "Exception ignored" traceback for it
        if info.exc_type is not None and issubclass(info.exc_type, KeyboardInterrupt):
            return
        previous_hook(info)

    sys.unraisablehook = quiet
    try:
        yield
    finally:
        sys.unraisablehook = previous_hook
        signal.signal(signal.SIGINT, signal.default_int_handler)
        _interrupted.clear()


def check_interrupt() -> None:
    """Raise :class:`KeyboardInterrupt` when a Ctrl-C came and was swallowed; commands
    call it before they put their output in place."""
    if _interrupted.is_set():
        raise KeyboardInterrupt
