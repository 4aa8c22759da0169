"""Options and helpers shared by several commands."""

from __future__ import annotations

from pathlib import Path

import twin
from twin.errors import ScenarioError

DEFAULT_SCENARIO = "scenarios/default.toml"


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
