"""Scenarios: what one study runs, validated into frozen pydantic models (pure).

A scenario is data (TOML in ``scenarios/``). Unknown keys are errors; every value has an
allowed range. A scenario may carry named *variants* (:class:`Variant`): what-if changes of
its sites (add, remove, move, change), grid and radio settings, applied by
:mod:`twin.variants`. :func:`twin.sources.scenario_file.read_scenario` reads a file and turns
validation failures into :class:`~twin.errors.ScenarioError` messages that name the file,
the key and what is allowed.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from types import UnionType
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo

from twin.bands import MAX_FREQ_GHZ, MIN_FREQ_GHZ, band_label
from twin.errors import ScenarioError

#: allowed ``radio.sinr_threshold_db`` (and ``twin compare --threshold``), dB
SINR_THRESHOLD_RANGE_DB = (-30.0, 60.0)

Freq = Annotated[float, Field(ge=MIN_FREQ_GHZ, le=MAX_FREQ_GHZ)]
#: widest channel a scenario may give, MHz
MAX_CHANNEL_MHZ = 10000.0
ChannelMHz = Annotated[float, Field(gt=0, le=MAX_CHANNEL_MHZ)]
#: a sector's boresight, degrees clockwise from true north (a full turn either way, as a
#: cluster's ``start_deg``; NaN, which the radio pass reads as "omnidirectional", refused)
Azimuth = Annotated[float, Field(ge=-360, le=360)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CityConfig(_Model):
    """Where the city comes from and how heights are filled in."""

    source: str = Field(description="OSM file, footprint file, place:NAME or bbox:W,S,E,N")
    name: str | None = None
    area: tuple[float, float, float, float] | None = Field(
        default=None, description="area of interest (west, south, east, north) in degrees"
    )
    storey_height_m: float = Field(default=3.0, gt=0, le=10)
    default_height_m: float = Field(default=10.0, gt=0, le=500)
    min_area_m2: float = Field(default=4.0, ge=0)
    terrain: str | None = Field(
        default=None,
        description=(
            "ground elevation model (SRTM .hgt or .hgt.zip, GeoTIFF) covering the city; "
            "None: flat ground at 0 m"
        ),
    )

    @field_validator("area")
    @classmethod
    def _area_order(
        cls, v: tuple[float, float, float, float] | None
    ) -> tuple[float, float, float, float] | None:
        if v is not None:
            w, s, e, n = v
            if not (-180 <= w < e <= 180 and -90 <= s < n <= 90):
                raise ValueError("area must be (west, south, east, north) in degrees, west < east")
        return v


class GridConfig(_Model):
    """Receiver grid."""

    spacing_m: float = Field(default=5.0, gt=0, le=1000)
    indoor_height_m: float = Field(default=9.0, gt=0, le=100)
    outdoor_height_m: float = Field(default=1.5, gt=0, le=10)
    roof_clearance_m: float = Field(default=1.5, ge=0, le=10)
    street_step_m: float | None = Field(default=10.0, gt=0, le=1000)
    #: outdoor receivers on the city's water (sea, lakes, rivers, basins): ``drop`` (none
    #: there: their cells are nodata, as outside the area; the indoor ones of a footprint
    #: on water and the street ones on a bridge stay; piers are land) or ``keep``
    #: (counted as outdoor users)
    water: Literal["drop", "keep"] = "drop"


class SiteEntry(_Model):
    """One site given inline (lon/lat in degrees, height above ground in metres)."""

    site_id: str
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    height_m: float = Field(gt=0, le=500)
    model: Literal["uma", "umi", "rma"] = "uma"
    power_dbm: float = Field(default=46.0, ge=-30, le=80)
    gain_dbi: float = Field(default=15.0, ge=-10, le=40)
    azimuths_deg: tuple[Azimuth, ...] = Field(
        default=(), description="sector boresights, degrees clockwise from true north"
    )
    bands_ghz: tuple[Freq, ...] = ()


class SiteLayout(_Model):
    """A generated layout: a hexagonal lattice snapped to rooftops (UMa) or streets (UMi)."""

    layout: Literal["hex-rooftop", "hex-street"]
    isd_m: float = Field(gt=10, le=20000)
    power_dbm: float = Field(default=46.0, ge=-30, le=80)
    gain_dbi: float = Field(default=15.0, ge=-10, le=40)
    azimuths_deg: tuple[Azimuth, ...] = Field(
        default=(), description="sector boresights, degrees clockwise from true north"
    )
    bands_ghz: tuple[Freq, ...] = ()
    mast_m: float = Field(default=3.0, ge=0, le=100)
    street_height_m: float = Field(default=10.0, gt=0, le=100)
    prefix: str | None = None


class ClusterLayout(_Model):
    """A temporary cluster of ``count`` sites around a building or a point.

    ``around`` is the name of a building of the city (its OSM ``name``, matched without
    regard to case; every part with that name counts) or a ``[lon, lat]`` point. The
    sites stand on a ring ``distance_m`` outside the building's outline, at bearings
    ``start_deg + k * 360 / count`` from its centre, each moved to the nearest spot
    outside every footprint. With ``face = true`` each site has one sector pointed at the
    building's centre (TR 38.901 clause 7.3 element pattern); otherwise it is omni.
    """

    layout: Literal["cluster"]
    around: str | tuple[float, float] = Field(
        description="building name (OSM name tag) or [lon, lat] in degrees"
    )
    count: int = Field(default=4, ge=1, le=12)
    distance_m: float = Field(default=30.0, ge=0, le=2000)
    start_deg: float = Field(
        default=45.0, ge=-360, le=360, description="bearing of the first site, from true north"
    )
    height_m: float = Field(default=15.0, gt=0, le=100)
    model: Literal["uma", "umi", "rma"] = "umi"
    face: bool = True
    power_dbm: float = Field(default=40.0, ge=-30, le=80)
    gain_dbi: float = Field(default=15.0, ge=-10, le=40)
    bands_ghz: tuple[Freq, ...] = ()
    prefix: str | None = None

    @field_validator("around")
    @classmethod
    def _around(cls, v: str | tuple[float, float]) -> str | tuple[float, float]:
        if isinstance(v, str):
            if not v.strip():
                raise ValueError("around: give a building name or [lon, lat]")
        elif not (-180 <= v[0] <= 180 and -90 <= v[1] <= 90):
            raise ValueError("around: [lon, lat] must be in degrees (lon -180..180, lat -90..90)")
        return v


#: Every generated layout; the ``layout`` key tells which.
Layout = Annotated[SiteLayout | ClusterLayout, Field(discriminator="layout")]


class SitesConfig(_Model):
    """Sites: a file, an inline list and/or generated layouts (all are combined)."""

    file: str | None = None
    list: tuple[SiteEntry, ...] = ()
    generate: tuple[Layout, ...] = ()
    inside_building: Literal["refuse", "lift"] = Field(
        default="refuse",
        description="a given site (file, list, variant) whose antenna is inside a building, "
        "below its roof: refuse it (the error names the building and its roof), or lift its "
        "antenna onto the roof (roof height + lift_mast_m; logged and in summary.json), for "
        "site data known to be right where OSM's roof heights are estimated",
    )
    lift_mast_m: float = Field(
        default=3.0,
        ge=0,
        le=50,
        description="with inside_building = 'lift': the antenna's height above the roof it "
        "is lifted onto, m (3: the rooftop layouts' mast)",
    )

    @model_validator(mode="after")
    def _some_sites(self) -> SitesConfig:
        if self.file is None and not self.list and not self.generate:
            raise ValueError("give sites: a file, a list or a generate layout")
        return self


class RadioConfig(_Model):
    """Bands and link-budget assumptions (defaults: the seed study; see docs/physics.md)."""

    bands_ghz: tuple[Freq, ...] = (0.7, 3.5, 28.0)
    mcl_db: float = Field(default=70.0, ge=0, le=200)
    gain_rx_dbi: float = Field(default=0.0, ge=-20, le=40)
    o2i: Literal["none", "low", "high"] = "low"
    indoor_distance: Literal["window", "wall"] = Field(
        default="window",
        description="d_2D-in of the O2I loss (0.5 dB/m, TR 38.901 7.4.3): 'window' 0 m, the "
        "user by the window (the seed study); 'wall' each indoor receiver's distance to "
        "the facade of its block of buildings",
    )
    shadowing: Literal["off", "margin", "field"] = Field(
        default="margin",
        description="'off' 0 dB; 'margin' k sigma_SF on every link (the seed study); "
        "'field' spatially correlated shadow fading per site (TR 38.901 Table 7.5-6) and "
        "the O2I penetration loss's N(0, sigma_P^2) drawn once per indoor receiver, the "
        "same on all its links (docs/physics.md)",
    )
    shadow_k: float = Field(default=1.0, ge=0, le=5)
    noise_figure_db: float = Field(default=0.0, ge=0, le=30)
    bandwidth: Literal["seed", "fixed"] = "seed"
    channel_bandwidth_mhz: ChannelMHz | dict[str, ChannelMHz] = Field(
        default={},
        description="with bandwidth = 'fixed': the channel of every band, MHz (a number), or "
        'one per band keyed by GHz or label ({ "0.7" = 10, "3p5" = 100 })',
    )
    spectrum_share: float = Field(default=0.05, gt=0, le=1)
    reuse: int = Field(default=3, ge=1, le=12)
    user_density_per_km2: float = Field(default=300.0, gt=0)
    edge_fraction: float = Field(default=2.0 / 3.0, gt=0, le=1)
    max_spectral_efficiency: float | None = Field(default=None, gt=0, le=30)
    sinr_threshold_db: float = Field(
        default=-5.0, ge=SINR_THRESHOLD_RANGE_DB[0], le=SINR_THRESHOLD_RANGE_DB[1]
    )
    downtilt_deg: float = Field(default=0.0, ge=-90, le=90)
    visibility: Literal["fast", "exact"] = "fast"
    max_site_distance_m: float | None = Field(
        default=None,
        gt=0,
        description="receivers ignore sites farther than this (no signal, no interference); "
        "None: the distance where a site's best-case power falls site_radius_margin_db "
        "below the noise floor (docs/scaling.md); inf: no limit",
    )
    site_radius_margin_db: float = Field(
        default=20.0,
        ge=0,
        le=100,
        description="margin below the noise floor of the automatic site radius, dB",
    )
    seed: int = Field(default=1, ge=0)
    sweep_ghz: tuple[float, float, float] | None = Field(
        default=None,
        description="frequency sweep (start, stop, step) in GHz: capacity per user type "
        "against frequency over the city, as the seed study does (e.g. [0.5, 40, 0.5])",
    )

    @field_validator("sweep_ghz")
    @classmethod
    def _sweep(cls, v: tuple[float, float, float] | None) -> tuple[float, float, float] | None:
        if v is not None:
            start, stop, step = v
            if not (MIN_FREQ_GHZ <= start < stop <= MAX_FREQ_GHZ and step > 0):
                raise ValueError(
                    f"sweep_ghz must be [start, stop, step] with {MIN_FREQ_GHZ:g} <= start < "
                    f"stop <= {MAX_FREQ_GHZ:g} GHz and step > 0"
                )
            if (stop - start) / step > 2000:
                raise ValueError("sweep_ghz: at most 2000 frequencies")
        return v

    @field_validator("bands_ghz")
    @classmethod
    def _bands(cls, v: tuple[float, ...]) -> tuple[float, ...]:
        if not v:
            raise ValueError("give at least one band")
        return tuple(sorted(set(v)))

    @field_validator("channel_bandwidth_mhz", mode="before")
    @classmethod
    def _channel_keys(cls, v: Any) -> Any:
        """Keys as band labels: "0.7", "0p7" and 0.7 name the same band."""
        if not isinstance(v, dict):
            return v
        out: dict[str, Any] = {}
        for key, mhz in v.items():
            text = str(key).strip()
            try:
                freq_ghz = float(text.replace("p", "."))
            except ValueError:
                freq_ghz = math.nan
            if not MIN_FREQ_GHZ <= freq_ghz <= MAX_FREQ_GHZ:
                raise ValueError(
                    f"key {text!r} is not a band: give its frequency in GHz "
                    f'("3.5") or its label ("3p5"), {MIN_FREQ_GHZ:g} to {MAX_FREQ_GHZ:g} GHz'
                )
            label = band_label(freq_ghz)
            if label in out:
                raise ValueError(f"band {label} is given twice (key {text!r})")
            out[label] = mhz
        return out

    @model_validator(mode="after")
    def _fixed_bandwidth_given(self) -> RadioConfig:
        """With bandwidth = "fixed" every band (and every swept frequency) has a channel."""
        if self.bandwidth != "fixed" or not isinstance(self.channel_bandwidth_mhz, dict):
            return self
        given = sorted(self.channel_bandwidth_mhz) or "none"
        missing = [
            band_label(f) for f in self.bands_ghz if band_label(f) not in self.channel_bandwidth_mhz
        ]
        if missing:
            raise ValueError(
                f"bandwidth = 'fixed' needs channel_bandwidth_mhz for every band: none for "
                f"{', '.join(missing)} (given for: {given}); give one number for all bands "
                'or one per band, e.g. { "0.7" = 10, "3.5" = 100 }'
            )
        if self.sweep_ghz is not None:
            raise ValueError(
                "bandwidth = 'fixed' with sweep_ghz needs one channel for every swept "
                "frequency: give channel_bandwidth_mhz as a number (MHz), not per band "
                f"(given for: {given})"
            )
        return self


def _patch_model(model: type[_Model], name: str) -> type[_Model]:
    """A model with the fields of ``model``, each optional (default ``None``).

    The constraints of each field are kept, so a patch is checked value by value; the
    patched section is validated again as a whole when a variant is applied
    (:func:`twin.variants.apply_variant`), which runs the section's own validators.
    """
    fields: dict[str, Any] = {}
    for key, f in model.model_fields.items():
        annotation: Any = f.annotation
        fields[key] = (annotation | None, FieldInfo.merge_field_infos(f, default=None))
    patch: type[_Model] = create_model(name, __base__=_Model, **fields)
    patch.__doc__ = (
        f"Part of a variant that changes ``[{name.removesuffix('Patch').lower()}]``: any key "
        f"of :class:`{model.__name__}`, each optional."
    )
    return patch


if TYPE_CHECKING:  # the type checker sees plain models; pydantic gets the generated ones

    class GridPatch(_Model):
        """Keys of :class:`GridConfig` that a variant changes."""

    class RadioPatch(_Model):
        """Keys of :class:`RadioConfig` that a variant changes."""

else:
    GridPatch = _patch_model(GridConfig, "GridPatch")
    RadioPatch = _patch_model(RadioConfig, "RadioPatch")


class SiteMove(_Model):
    """A new position for a site (degrees); height and the rest are kept."""

    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)


class SiteChange(_Model):
    """New values for some attributes of a site (the others are kept)."""

    height_m: float | None = Field(default=None, gt=0, le=500)
    model: Literal["uma", "umi", "rma"] | None = None
    power_dbm: float | None = Field(default=None, ge=-30, le=80)
    gain_dbi: float | None = Field(default=None, ge=-10, le=40)
    azimuths_deg: tuple[Azimuth, ...] | None = None
    bands_ghz: tuple[Freq, ...] | None = None

    @model_validator(mode="after")
    def _something(self) -> SiteChange:
        if not self.model_fields_set:
            raise ValueError(
                "give at least one of height_m, model, power_dbm, gain_dbi, azimuths_deg, bands_ghz"
            )
        return self


VARIANT_NAME = r"^[A-Za-z0-9_.-]+$"
VariantName = Annotated[str, Field(pattern=VARIANT_NAME)]


class Variant(_Model):
    """A named what-if change of a scenario (``[variants.NAME]`` in a scenario file).

    The changes apply to the resolved site list of the ``base`` variant (or of the
    scenario itself), in this order: ``add_sites`` and ``add_layouts`` (sites generated on
    the city), then ``remove_sites``, ``move_sites`` and ``set_sites``, which name sites by
    ``site_id`` (generated ids such as ``U03`` included). ``grid`` and ``radio`` change
    single keys of those sections.
    """

    description: str = ""
    base: VariantName | None = None
    add_sites: tuple[SiteEntry, ...] = ()
    add_layouts: tuple[Layout, ...] = ()
    remove_sites: tuple[str, ...] = ()
    move_sites: dict[str, SiteMove] = {}
    set_sites: dict[str, SiteChange] = {}
    grid: GridPatch = GridPatch()
    radio: RadioPatch = RadioPatch()

    @model_validator(mode="after")
    def _consistent(self) -> Variant:
        removed = list(self.remove_sites)
        twice = sorted({s for s in removed if removed.count(s) > 1})
        if twice:
            raise ValueError(f"remove_sites names {', '.join(twice)} more than once")
        gone = set(removed)
        for key, names in (("move_sites", self.move_sites), ("set_sites", self.set_sites)):
            both = sorted(gone & set(names))
            if both:
                raise ValueError(
                    f"{', '.join(both)} is removed (remove_sites) and also changed in {key}"
                )
        return self


class Scenario(_Model):
    """A complete study.

    ``variants`` holds the named what-if changes of the file; ``variant`` is set only on
    a scenario made by :func:`twin.variants.apply_variant` (the variant it applied).
    """

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    city: CityConfig
    grid: GridConfig = GridConfig()
    sites: SitesConfig
    radio: RadioConfig = RadioConfig()
    variants: dict[VariantName, Variant] = {}
    variant: str | None = None

    @field_validator("variants")
    @classmethod
    def _bases(cls, v: dict[str, Variant]) -> dict[str, Variant]:
        for name, variant in v.items():
            seen = [name]
            base = variant.base
            while base is not None:
                if base not in v:
                    known = ", ".join(sorted(v))
                    raise ValueError(
                        f"variants.{seen[-1]}.base: {base!r} is not a variant of this "
                        f"scenario (variants: {known})"
                    )
                if base in seen:
                    chain = " -> ".join([*seen, base])
                    raise ValueError(f"variants.{name}: the bases form a cycle ({chain})")
                seen.append(base)
                base = v[base].base
        return v


_UNITS = (
    ("_per_km2", "per km²"), ("_dbm", "dBm"), ("_dbi", "dBi"), ("_db", "dB"), ("_ghz", "GHz"),
    ("_mhz", "MHz"), ("_deg", "degrees"), ("_m", "m"),
)  # fmt: skip
_BOUNDS = ("ge", "gt", "le", "lt")
_RANGE_ERRORS = ("greater_than", "greater_than_equal", "less_than", "less_than_equal")


def _unwrap(tp: Any) -> tuple[Any, list[Any]]:
    """``tp`` without ``Annotated`` and ``None`` of an optional, and the constraints
    (``Ge``, ``Le``, ...) it carried."""
    metadata: list[Any] = []
    while True:
        if get_origin(tp) is Annotated:
            tp, *extra = get_args(tp)
            for m in extra:
                metadata += m.metadata if isinstance(m, FieldInfo) else [m]
        elif get_origin(tp) in (Union, UnionType):
            args = [a for a in get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return tp, metadata
            tp = args[0]
        else:
            return tp, metadata


def _models_of(tp: Any) -> list[type[BaseModel]]:
    args = get_args(tp) if get_origin(tp) in (Union, UnionType) else (tp,)
    return [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]


def _walk(model: type[BaseModel], loc: tuple[int | str, ...]) -> tuple[Any, list[Any]]:
    """The type at ``loc`` of a validation error in ``model`` and its constraints;
    ``(None, [])`` where the path leaves the models."""
    tp: Any = model
    metadata: list[Any] = []
    for part in loc:
        tp, _ = _unwrap(tp)
        models = _models_of(tp)
        if models:
            if (
                isinstance(part, str)
                and len(models) > 1
                and not any(part in m.model_fields for m in models)
            ):
                # a tagged union's member (pydantic puts the tag in the path)
                tagged = [m for m in models if part in str(m.model_fields["layout"].annotation)]
                tp, metadata = (tagged[0], []) if tagged else (None, [])
                continue
            field = next((m.model_fields[part] for m in models if part in m.model_fields), None)
            if field is None:
                return None, []
            tp, metadata = field.annotation, list(field.metadata)
        elif get_origin(tp) is tuple and isinstance(part, int):
            args = get_args(tp)
            tp, metadata = (args[0] if args[-1] is Ellipsis else args[part]), []
        elif get_origin(tp) is dict:
            tp, metadata = get_args(tp)[1], []
        elif get_origin(tp) in (Union, UnionType) and isinstance(part, str):
            # a number or a table (channel_bandwidth_mhz): a key is the table's
            tables = [a for a in get_args(tp) if get_origin(a) is dict]
            if not tables:
                return None, []
            tp, metadata = get_args(tables[0])[1], []
        else:
            return None, []
        tp, more = _unwrap(tp)
        metadata += more
    return tp, metadata


def _unit(name: str) -> str:
    if name in ("lon", "lat"):
        return " degrees"
    return next((f" {unit}" for suffix, unit in _UNITS if name.endswith(suffix)), "")


def describe_error(err: Mapping[str, Any], model: type[BaseModel]) -> str:
    """What is wrong with one value of a pydantic validation error of ``model`` and what
    is allowed: an unknown key with the keys of its table (and the one meant, when
    close), a number out of range (or NaN) with both bounds and the unit; pydantic's
    message otherwise. The value given is not part of it."""
    loc = tuple(err["loc"])
    msg = str(err["msg"]).removeprefix("Value error, ")  # pydantic's prefix of our messages
    got = err.get("input")
    if err["type"] == "extra_forbidden" and loc:
        table, _ = _walk(model, loc[:-1])
        keys = [k for m in _models_of(_unwrap(table)[0]) for k in m.model_fields]
        msg = "unknown key"
        if keys:
            close = difflib.get_close_matches(str(loc[-1]), keys, n=1, cutoff=0.6)
            where = ".".join(str(p) for p in loc[:-1])
            known = f"keys of [{where}]" if where else "top-level keys"
            msg += (f"; did you mean {close[0]!r}?" if close else "") + f" ({known}: "
            msg += f"{', '.join(keys)})"
    elif err["type"] in _RANGE_ERRORS or (
        isinstance(got, float) and not math.isfinite(got) and err["type"].startswith("greater")
    ):
        _, metadata = _walk(model, loc)
        bounds = {b: getattr(m, b) for m in metadata for b in _BOUNDS if hasattr(m, b)}
        # the nearest key that names a unit (a band's key of channel_bandwidth_mhz: MHz)
        name = next((str(p) for p in reversed(loc) if isinstance(p, str) and _unit(str(p))), "")
        unit = _unit(name)
        low = (
            f"from {bounds['ge']:g}" if "ge" in bounds
            else f"greater than {bounds['gt']:g}" if "gt" in bounds else ""
        )  # fmt: skip
        high = (
            f"{'to' if 'ge' in bounds else 'at most'} {bounds['le']:g}" if "le" in bounds
            else f"less than {bounds['lt']:g}" if "lt" in bounds else ""
        )  # fmt: skip
        if bounds:
            joined = " ".join([low, high]) if "ge" in bounds else " and ".join(
                b for b in (low, high) if b
            )  # fmt: skip
            msg = f"must be a number {joined}{unit}"
            if unit == " GHz" and isinstance(got, int | float) and got > bounds.get("le", math.inf):
                msg += f"; a frequency in MHz? give GHz ({got:g} MHz = {got / 1000:g} GHz)"
    return msg


def format_validation_error(
    where: str, exc: ValidationError, model: type[BaseModel] | None = None
) -> str:
    """One line per problem: ``file: key.path: message (got value)`` (the message by
    :func:`describe_error` on ``model``, the :class:`Scenario` by default)."""
    lines = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        branch = next((p for p in loc if _is_union_branch(p)), None)
        if branch is not None:
            # a value that may be a number or a table (channel_bandwidth_mhz): pydantic
            # reports each branch; keep the one the value took, without its tag
            is_table_branch = str(branch).startswith("dict[")
            if is_table_branch and err["type"] == "dict_type":
                continue  # not a table: the number branch says what is wrong
            if not is_table_branch and isinstance(err.get("input"), dict):
                continue  # a table: the table branch says what is wrong
            loc = tuple(p for p in loc if not _is_union_branch(p))
            err = {**err, "loc": loc}
        key = ".".join(str(p) for p in loc) or "(top level)"
        got = err.get("input")
        shown = "" if isinstance(got, dict) else f" (got {got!r})"
        message = describe_error(err, model or Scenario)
        if (
            branch is not None
            and not str(branch).startswith("dict[")
            and loc[-1:] == ("channel_bandwidth_mhz",)
        ):
            message = (
                "give one number of MHz for every band (greater than 0, at most "
                f'{MAX_CHANNEL_MHZ:g}) or a table of one per band, e.g. {{ "3.5" = 100, '
                '"28" = 400 }'
            )
        lines.append(f"{where}: {key}: {message}{shown}")
    return "\n".join(lines)


def _is_union_branch(part: object) -> bool:
    """A branch tag pydantic puts in the path of a union's error
    (``constrained-float``, ``dict[str,constrained-float]``)."""
    return isinstance(part, str) and ("[" in part or part.startswith(("constrained-", "function-")))


def with_overrides(
    scenario: Scenario,
    *,
    city_source: str | None = None,
    terrain: str | None = None,
    sites_file: str | None = None,
    sites_inside_building: str | None = None,
    spacing_m: float | None = None,
    bands_ghz: tuple[float, ...] | None = None,
    visibility: str | None = None,
    name: str | None = None,
) -> Scenario:
    """A copy of ``scenario`` with command-line overrides applied and validated again.

    ``city_source`` replaces the city (and drops its name, area of interest, terrain and
    description, which belong to the old city: the description then says whose settings
    run on which city); ``terrain`` sets ``city.terrain`` (``"flat"``: none, flat
    ground); ``sites_file`` replaces all sites with the file's;
    ``sites_inside_building`` sets ``sites.inside_building``.
    """
    data = scenario.model_dump(mode="python")
    if city_source is not None:
        data["city"] = {
            **data["city"], "source": city_source, "name": None, "area": None, "terrain": None,
        }  # fmt: skip
        where = city_source.replace("\\", "/").rsplit("/", 1)[-1]
        data["description"] = f"the {scenario.name!r} scenario's settings on {where}"
    if terrain is not None:
        data["city"] = {**data["city"], "terrain": None if terrain == "flat" else terrain}
    if sites_file is not None:
        data["sites"] = {**data["sites"], "file": sites_file, "list": (), "generate": ()}
    if sites_inside_building is not None:
        data["sites"] = {**data["sites"], "inside_building": sites_inside_building}
    if spacing_m is not None:
        data["grid"] = {**data["grid"], "spacing_m": spacing_m}
    if bands_ghz is not None:
        data["radio"] = {**data["radio"], "bands_ghz": bands_ghz}
    if visibility is not None:
        data["radio"] = {**data["radio"], "visibility": visibility}
    if name is not None:
        data["name"] = name
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        # the overrides as the commands' options give them (twin run --bands, twin
        # optimize --band both set the bands)
        given = {
            "city": city_source,
            "terrain": terrain,
            "sites": sites_file,
            "inside_building": sites_inside_building,
            "spacing": None if spacing_m is None else f"{spacing_m:g} m",
            "bands": None if bands_ghz is None else f"{','.join(f'{b:g}' for b in bands_ghz)} GHz",
            "visibility": visibility,
        }
        options = ", ".join(f"{key} {v}" for key, v in given.items() if v is not None)
        where = f"scenario {scenario.name!r}" + (f" with {options}" if options else "")
        raise ScenarioError(format_validation_error(where, exc)) from None
