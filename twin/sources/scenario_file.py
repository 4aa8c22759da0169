"""Read scenario files (TOML) into :class:`twin.scenario.Scenario`.

Relative paths inside a scenario (``city.source``, ``city.terrain``, ``sites.file``) are
relative to the scenario file's folder. Every variant of the file (``[variants.NAME]``) is
applied once while reading, so a bad value in a variant is reported with the file, not at
run time.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from twin.errors import ScenarioError
from twin.scenario import Scenario, format_validation_error
from twin.variants import apply_variant


def resolve_paths(data: dict[str, Any], base: Path) -> dict[str, Any]:
    """Make ``city.source``, ``city.terrain`` and ``sites.file`` absolute, relative to ``base``."""
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in data.items()}
    city = out.get("city")
    if isinstance(city, dict) and isinstance(city.get("source"), str):
        src = city["source"]
        if not src.startswith(("place:", "bbox:")) and not Path(src).is_absolute():
            city["source"] = str((base / src).resolve())
    if isinstance(city, dict) and isinstance(city.get("terrain"), str):
        if not Path(city["terrain"]).is_absolute():
            city["terrain"] = str((base / city["terrain"]).resolve())
    sites = out.get("sites")
    if isinstance(sites, dict) and isinstance(sites.get("file"), str):
        if not Path(sites["file"]).is_absolute():
            sites["file"] = str((base / sites["file"]).resolve())
    return out


def scenario_from_dict(data: dict[str, Any], *, where: str, base: Path) -> Scenario:
    """Validate a scenario mapping and each of its variants; errors name ``where`` and the key.

    ``variant`` is not a key of a file (it marks a scenario made by applying a variant);
    variants are tables ``[variants.NAME]``.
    """
    if "variant" in data:
        raise ScenarioError(
            f"{where}: variant: unknown key (variants are tables [variants.NAME]; "
            "choose one to run with --variant NAME)"
        )
    try:
        scenario = Scenario.model_validate(resolve_paths(data, base))
    except ValidationError as exc:
        raise ScenarioError(format_validation_error(where, exc)) from None
    for name in scenario.variants:
        try:
            apply_variant(scenario, name)
        except ScenarioError as exc:
            raise ScenarioError(
                "\n".join(f"{where}: {line}" for line in str(exc).splitlines())
            ) from None
    return scenario


def read_scenario_data(path: str | Path) -> dict[str, Any]:
    """The raw TOML mapping of a scenario file."""
    p = Path(path)
    if not p.is_file():
        raise ScenarioError(f"{p}: no such scenario file")
    try:
        with open(p, "rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{p}: not valid TOML ({exc})") from None


def read_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file."""
    p = Path(path)
    data = read_scenario_data(p)
    return scenario_from_dict(data, where=str(p), base=p.parent)
