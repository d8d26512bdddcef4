"""The appliance catalogue a household's runs are drawn from, and their event rates.

A real meter does not see a smooth mean: it sees a base load plus appliances switching on
and off. The model draws appliance runs as a Poisson process whose rate (:func:`event_rates_per_w`)
makes the expected appliance power equal the profile's share above the base load.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

from pv_simulator.models.household.profiles import SEASONS


@dataclass(frozen=True)
class Phase:
    """One phase of an appliance run: `cycles` times on for `on_s` at `power_w`
    then off for `off_s` (thermostat cycling); ranges are sampled uniformly,
    power once per phase."""

    power_w: tuple[float, float]
    on_s: tuple[float, float]
    off_s: tuple[float, float] = (0.0, 0.0)
    cycles: tuple[int, int] = (1, 1)

    @property
    def mean_energy_j(self) -> float:
        return _mid(self.power_w) * _mid(self.on_s) * (self.cycles[0] + self.cycles[1]) / 2.0

    @property
    def max_duration_s(self) -> float:
        return self.cycles[1] * (self.on_s[1] + self.off_s[1])


@dataclass(frozen=True)
class Appliance:
    """An appliance type: its run phases and when in the day it tends to run.

    `usage` are (centre hour, width h, weight) bumps of the time-of-day mix;
    `floor` keeps a small share at every hour; `season_weight` scales the mix
    per (winter, transition, summer), e.g. lighting is used more in winter.
    """

    name: str
    phases: tuple[Phase, ...]
    usage: tuple[tuple[float, float, float], ...]
    floor: float = 0.02
    season_weight: tuple[float, float, float] = (1.0, 1.0, 1.0)

    @property
    def mean_energy_j(self) -> float:
        return sum(phase.mean_energy_j for phase in self.phases)

    @property
    def max_duration_s(self) -> float:
        return sum(phase.max_duration_s for phase in self.phases)

    def preference(self, hour: int, season_index: int) -> float:
        """Relative use at local hour `hour` (evaluated at the hour's middle)."""
        centre = hour + 0.5
        weight = self.floor
        for peak_h, width_h, amplitude in self.usage:
            distance_h = abs(centre - peak_h) % 24.0
            distance_h = min(distance_h, 24.0 - distance_h)
            weight += amplitude * math.exp(-0.5 * (distance_h / width_h) ** 2)
        return weight * self.season_weight[season_index]


def _mid(bounds: tuple[float, float]) -> float:
    return (bounds[0] + bounds[1]) / 2.0


# Ratings and run lengths are typical values of the kind tabulated in the CREST
# demand model (Richardson, Thomson, Infield & Clifford, "Domestic electricity
# use: a high-resolution energy demand model", Energy and Buildings 42 (2010)
# 1878-1887) and in manufacturers' data sheets; heating phases of washing
# machines and dishwashers dominate their energy (~0.5-1.2 kWh per run).
APPLIANCES: tuple[Appliance, ...] = (
    Appliance("kettle", (Phase((1800, 2200), (120, 240)),), ((7.0, 1.5, 1.0), (16.0, 2.0, 0.5), (20.0, 2.0, 0.4))),
    Appliance(
        "coffee machine",
        (Phase((1000, 1400), (30, 90), (30, 120), (1, 3)),),
        ((7.0, 1.5, 1.0), (13.5, 1.5, 0.4)),
    ),
    Appliance("toaster", (Phase((800, 1200), (120, 240)),), ((7.5, 1.2, 1.0), (9.5, 1.5, 0.3))),
    Appliance("microwave", (Phase((800, 1200), (60, 420)),), ((12.5, 1.5, 0.8), (19.0, 2.0, 1.0))),
    Appliance(
        "hob",
        (Phase((1500, 2000), (300, 600)), Phase((1200, 2000), (60, 180), (30, 120), (4, 12))),
        ((12.0, 1.2, 1.0), (18.5, 1.5, 1.0)),
    ),
    Appliance(
        "oven",
        (Phase((2500, 3000), (480, 720)), Phase((2500, 3000), (60, 120), (90, 180), (5, 15))),
        ((12.0, 1.2, 0.7), (18.5, 1.5, 1.0)),
    ),
    Appliance(
        "washing machine",
        (
            Phase((150, 250), (120, 300)),
            Phase((1800, 2200), (600, 1200)),
            Phase((150, 250), (1800, 3000)),
            Phase((300, 500), (300, 600)),
        ),
        ((10.0, 2.5, 1.0), (17.0, 2.0, 0.3)),
    ),
    Appliance(
        "dishwasher",
        (
            Phase((80, 150), (300, 600)),
            Phase((1800, 2200), (600, 1000)),
            Phase((80, 150), (1200, 1800)),
            Phase((1800, 2200), (400, 700)),
            Phase((10, 30), (1200, 1800)),
        ),
        ((13.5, 1.5, 0.7), (20.5, 1.5, 1.0)),
    ),
    Appliance(
        "tumble dryer",
        (Phase((2000, 2500), (300, 600), (60, 180), (5, 9)),),
        ((12.0, 3.0, 0.6),),
        season_weight=(1.5, 1.0, 0.5),
    ),
    Appliance("vacuum cleaner", (Phase((700, 1600), (600, 1800)),), ((10.5, 2.0, 1.0), (16.0, 2.0, 0.4))),
    Appliance("iron", (Phase((1800, 2400), (20, 60), (30, 90), (20, 40)),), ((15.0, 3.0, 0.5), (20.0, 2.0, 0.5))),
    Appliance(
        "television",
        (Phase((60, 150), (1800, 10800)),),
        ((20.5, 2.0, 1.5), (13.0, 2.0, 0.3)),
        floor=0.15,
    ),
    Appliance(
        "computer",
        (Phase((40, 150), (1800, 7200)),),
        ((10.0, 3.0, 0.6), (20.0, 2.5, 1.0)),
        floor=0.15,
    ),
    Appliance(
        "lighting",
        (Phase((40, 250), (1800, 10800)),),
        ((7.0, 1.0, 0.5), (20.0, 2.5, 1.5)),
        floor=0.15,
        season_weight=(1.6, 1.0, 0.5),
    ),
)


@lru_cache(maxsize=1)
def event_rates_per_w() -> dict[tuple[str, int], tuple[float, ...]]:
    """Events per second per W of appliance power, per (season, hour) and
    appliance: the hour's appliance power is split by the time-of-day mix and
    divided by each appliance's mean energy per run."""
    rates: dict[tuple[str, int], tuple[float, ...]] = {}
    for season_index, season in enumerate(SEASONS):
        for hour in range(24):
            weights = [appliance.preference(hour, season_index) for appliance in APPLIANCES]
            total = sum(weights)
            rates[season, hour] = tuple(
                weight / total / appliance.mean_energy_j for weight, appliance in zip(weights, APPLIANCES, strict=False)
            )
    return rates


LOOKAHEAD_S = max(appliance.max_duration_s for appliance in APPLIANCES) / 2.0
"""How far ahead of the current time runs are drawn: a run is centred on its arrival,
so one arriving this much later may already be on."""
