"""Size presets of the synthetic Netherlands: ``small`` (one region) and ``nl`` (national)."""

from __future__ import annotations

from dataclasses import dataclass

from lbm_model.errors import LbmError


@dataclass(frozen=True)
class ScalePreset:
    """Everything that differs between the small and the national world.

    Settlement sizes are in households (2020). Municipal seats follow a rank-size rule
    ``top_households * rank ** -zipf``; villages are log-uniform between the bounds;
    rural cells are scattered single farms and hamlets.
    """

    name: str
    bbox: tuple[float, float, float, float]  # xmin, ymin, xmax, ymax, EPSG:28992 metres
    n_gemeenten: int
    n_g4: int
    n_g40: int
    top_households: float
    zipf: float
    n_villages: int
    village_households: tuple[float, float]
    n_rural_cells: int
    n_wijken: int
    n_buurten: int
    years: tuple[int, ...]
    survey_years: tuple[int, ...]
    respondents_per_wave: int
    big_city_households: float  # settlement size at which big-city segregation is half developed
    raster_m: float = 100.0
    base_year: int = 2020


PRESETS: dict[str, ScalePreset] = {
    "small": ScalePreset(
        name="small",
        bbox=(112_000.0, 432_000.0, 158_000.0, 478_000.0),
        n_gemeenten=15,
        n_g4=1,
        n_g40=3,
        top_households=60_000.0,
        zipf=0.75,
        n_villages=65,
        village_households=(250.0, 4_000.0),
        n_rural_cells=4_000,
        n_wijken=150,
        n_buurten=600,
        years=(2014, 2016, 2018, 2020),
        survey_years=(2016, 2018, 2020),
        respondents_per_wave=6_700,
        big_city_households=45_000.0,
    ),
    "nl": ScalePreset(
        name="nl",
        bbox=(12_000.0, 305_000.0, 278_000.0, 615_000.0),
        n_gemeenten=340,
        n_g4=4,
        n_g40=40,
        top_households=470_000.0,
        zipf=0.75,
        n_villages=1_250,
        village_households=(250.0, 4_000.0),
        n_rural_cells=95_000,
        n_wijken=3_300,
        n_buurten=13_000,
        years=(2012, 2014, 2016, 2018, 2020, 2022, 2024),
        survey_years=(2016, 2020, 2024),
        respondents_per_wave=60_000,
        big_city_households=165_000.0,
    ),
}


def get_preset(scale: str) -> ScalePreset:
    """The preset called ``scale``; a user error for unknown names."""
    try:
        return PRESETS[scale]
    except KeyError:
        raise LbmError(f"unknown world scale {scale!r}; expected one of {', '.join(PRESETS)}.") from None
