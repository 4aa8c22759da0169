"""Scenario variants: what-if changes of a scenario's sites, grid and radio (pure).

A variant (``[variants.NAME]`` in a scenario file, :class:`twin.scenario.Variant`) may
name a ``base`` variant; :func:`variant_chain` lists the chain from the first base to the
variant. Applying a variant has two parts:

- :func:`apply_variant`: the scenario with the chain's ``grid`` and ``radio`` changes,
  named ``<scenario>-<variant>`` (so every output's provenance names the variant) and
  with ``variant`` set;
- :func:`resolve_sites`: one variant's site edits applied to an already resolved site
  list. Generated sites get their ids (``U01``, ``S03``) only when a layout is generated
  on the city, so edits name sites of the resolved list, never of the scenario text.
  :func:`twin.whatif.variant_sites` runs the whole chain on a city.

:func:`variant_toml` writes a variant back as a TOML snippet (the optimiser's output).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from pydantic import ValidationError
from pyproj import CRS, Transformer

from twin.errors import InputError, ScenarioError
from twin.scenario import Scenario, Variant, describe_error
from twin.sites import (
    Site,
    grid_to_true_deg,
    sites_from_entries,
    true_to_grid_deg,
    unlifted_height_m,
    without_lift,
)

__all__ = ["apply_variant", "resolve_sites", "variant_chain", "variant_toml"]


def variant_chain(scenario: Scenario, name: str) -> list[tuple[str, Variant]]:
    """The variants to apply for ``name``, first base first, ``name`` last.

    Raises
    ------
    ScenarioError
        When the scenario has no variant ``name``; the message lists the ones it has.
    """
    if name not in scenario.variants:
        have = ", ".join(sorted(scenario.variants)) or "none"
        raise ScenarioError(
            f"scenario {scenario.name!r} has no variant {name!r}; its variants: {have}"
        )
    chain: list[tuple[str, Variant]] = []
    current: str | None = name
    while current is not None:
        if any(current == n for n, _ in chain):  # the model forbids cycles; be safe
            raise ScenarioError(f"variants.{name}: the bases form a cycle")
        variant = scenario.variants[current]
        chain.append((current, variant))
        current = variant.base
    return chain[::-1]


def apply_variant(scenario: Scenario, name: str) -> Scenario:
    """The scenario with the ``grid`` and ``radio`` changes of variant ``name`` (and its bases).

    The result is named ``<scenario>-<name>``, has ``variant = name``, no variants of
    its own, and the variant's description (or the scenario's with the variant named).
    Its ``sites`` section is the scenario's: site edits are applied by
    :func:`resolve_sites` on the resolved list.

    Raises
    ------
    ScenarioError
        When the variant is missing or a changed value is not allowed; the message names
        ``variants.<name>.<section>.<key>``.
    """
    chain = variant_chain(scenario, name)
    data = scenario.model_dump(mode="python")
    set_by: dict[tuple[str, str], str] = {}
    for vname, variant in chain:
        for section in ("grid", "radio"):
            patch = getattr(variant, section).model_dump(exclude_none=True)
            data[section] = {**data[section], **patch}
            for key in patch:
                set_by[(section, key)] = vname
    description = chain[-1][1].description or f"{scenario.description} (variant {name})"
    data.update(name=f"{scenario.name}-{name}", description=description, variants={}, variant=name)
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = [str(p) for p in err["loc"]]
            key = ".".join(loc)
            if len(loc) >= 2 and (loc[0], loc[1]) in set_by:
                key = f"variants.{set_by[(loc[0], loc[1])]}.{key}"
            elif loc and loc[0] in ("grid", "radio"):
                key = f"variants.{name}.{loc[0]} (with the scenario's [{loc[0]}])"
            got = err.get("input")
            shown = "" if isinstance(got, dict) else f" (got {got!r})"
            lines.append(f"{key}: {describe_error(err, Scenario)}{shown}")
        raise ScenarioError("\n".join(lines)) from None


def _ids(sites: Iterable[Site]) -> list[str]:
    return [s.site_id for s in sites]


def _missing(names: Iterable[str], have: Sequence[str], key: str, where: str) -> None:
    absent = [n for n in names if n not in have]
    if absent:
        shown = ", ".join(have) if len(have) <= 40 else ", ".join(have[:40]) + ", ..."
        raise InputError(
            f"{where}.{key}: no site {', '.join(repr(a) for a in absent)} in the resolved "
            f"site list; its sites: {shown}"
        )


def resolve_sites(
    base_sites: Sequence[Site],
    variant: Variant,
    crs: CRS,
    *,
    generated: Sequence[Site] = (),
    where: str = "variant",
) -> list[Site]:
    """Apply one variant's site edits to a resolved site list.

    Order: the variant's ``add_sites`` (lon/lat, projected to ``crs``, ``placed_by =
    "variant"``) and the ``generated`` sites of its ``add_layouts`` are appended; then
    ``remove_sites``, ``move_sites`` (new position, ``placed_by = "moved"``, roof
    building cleared: :func:`twin.whatif.variant_sites` sets it to the building at the new
    spot; the antenna height above ground is kept) and ``set_sites``.

    Parameters
    ----------
    base_sites
        The resolved sites of the scenario (or of the base variant).
    variant
        The variant whose edits to apply (not its base: see :func:`variant_chain`).
    crs
        The city CRS (metres).
    generated
        Sites generated from ``variant.add_layouts`` on the city
        (:func:`twin.layouts.generate_layout`).
    where
        Name used in error messages (``variants.small_cells``).

    Returns
    -------
    list of Site
        Base sites in their order (minus removed ones), then the added sites.

    Raises
    ------
    InputError
        When a named site is not in the list (the message lists the ids there are) or the
        ids are no longer unique.
    """
    added = sites_from_entries(variant.add_sites, crs, placed_by="variant") + list(generated)
    sites = list(base_sites) + added
    ids = _ids(sites)
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise InputError(
            f"{where}: site ids must stay unique; {', '.join(dup)} would be repeated "
            "(give the added sites other ids, or a prefix to the layout)"
        )
    _missing(variant.remove_sites, ids, "remove_sites", where)
    _missing(variant.move_sites, ids, "move_sites", where)
    _missing(variant.set_sites, ids, "set_sites", where)
    gone = set(variant.remove_sites)
    to_city = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    out: list[Site] = []
    for s in sites:
        if s.site_id in gone:
            continue
        move = variant.move_sites.get(s.site_id)
        if move is not None:
            x, y = to_city.transform(move.lon, move.lat)
            # a site lifted onto a roof at its old spot moves with the height it was given;
            # its sectors keep their bearings from true north
            given_m = unlifted_height_m(s)
            true_deg = grid_to_true_deg(s.azimuths_deg, s.x_m, s.y_m, crs)
            s = replace(
                s, x_m=float(x), y_m=float(y), height_m=given_m, placed_by="moved",
                building_id=-1, extra=without_lift(s.extra),
                azimuths_deg=true_to_grid_deg(true_deg, float(x), float(y), crs),
            )  # fmt: skip
        change = variant.set_sites.get(s.site_id)
        if change is not None:
            values = change.model_dump(exclude_none=True)
            for key in ("azimuths_deg", "bands_ghz"):
                if key in values:
                    values[key] = tuple(float(v) for v in values[key])
            if "azimuths_deg" in values:  # given from true north
                values["azimuths_deg"] = true_to_grid_deg(values["azimuths_deg"], s.x_m, s.y_m, crs)
            if "height_m" in values:  # the height set here, not the lift's
                values["extra"] = without_lift(s.extra)
            s = replace(s, **values)
        out.append(s)
    if not out:
        raise InputError(f"{where}: the variant leaves no site")
    return out


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InputError(f"variant_toml: {value} cannot be written to TOML")
        return repr(value)
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{escaped}"'
    if isinstance(value, Mapping):
        inner = ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items())
        return "{ " + inner + " }" if inner else "{}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise InputError(f"variant_toml: cannot write {type(value).__name__} to TOML")


def _toml_key(key: str) -> str:
    bare = key.replace("_", "").replace("-", "").isalnum() and key.isascii()
    return key if bare else _toml_value(key)


def variant_toml(
    name: str,
    *,
    description: str = "",
    add_sites: Sequence[Site] = (),
    remove_sites: Sequence[str] = (),
    crs: CRS | None = None,
    radio: Mapping[str, Any] | None = None,
    grid: Mapping[str, Any] | None = None,
    comment: str = "",
) -> str:
    """A ``[variants.NAME]`` TOML table that :func:`twin.sources.scenario_file.read_scenario`
    accepts, adding ``add_sites`` (as lon/lat, 1e-9 degree, from ``crs``) and removing
    ``remove_sites``.

    Parameters
    ----------
    comment
        Lines written above the table as ``#`` comments.
    """
    lines = [f"# {line}".rstrip() for line in comment.splitlines()]
    lines.append(f"[variants.{_toml_key(name)}]")
    if description:
        lines.append(f"description = {_toml_value(description)}")
    if remove_sites:
        lines.append(f"remove_sites = {_toml_value(list(remove_sites))}")
    if radio:
        lines.append(f"radio = {_toml_value(dict(radio))}")
    if grid:
        lines.append(f"grid = {_toml_value(dict(grid))}")
    if add_sites:
        if crs is None:
            raise InputError("variant_toml: give the city crs to write added sites as lon/lat")
        to_wgs = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
        lines.append("add_sites = [")
        for s in add_sites:
            lon, lat = to_wgs.transform(s.x_m, s.y_m)
            entry: dict[str, Any] = {
                "site_id": s.site_id,
                "lon": round(float(lon), 9),
                "lat": round(float(lat), 9),
                "height_m": round(float(s.height_m), 3),
                "model": s.model,
                "power_dbm": float(s.power_dbm),
                "gain_dbi": float(s.gain_dbi),
            }
            if s.azimuths_deg:  # from true north, as a scenario gives them
                entry["azimuths_deg"] = list(grid_to_true_deg(s.azimuths_deg, s.x_m, s.y_m, crs))
            if s.bands_ghz:
                entry["bands_ghz"] = [float(b) for b in s.bands_ghz]
            lines.append(f"  {_toml_value(entry)},")
        lines.append("]")
    return "\n".join(lines) + "\n"
