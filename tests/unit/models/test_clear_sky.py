"""The clear sky of a site at any instant, and the geocentric sun its sites share."""

from __future__ import annotations

import unittest
from random import Random

from pv_simulator.models import clear_sky
from pv_simulator.models.clear_sky import SiteClearSky

JUNE_S = 1781913600.0  # 2026-06-20T00:00:00Z


def site(latitude_deg: float, longitude_deg: float) -> SiteClearSky:
    return SiteClearSky(latitude_deg=latitude_deg, longitude_deg=longitude_deg, altitude_m=100.0,
                        linke_turbidity=(3.0,), air_temperature_c=20.0)


class SharedSunTest(unittest.TestCase):
    def test_sites_asked_meter_by_meter_see_what_each_sees_alone(self) -> None:
        """The PV service takes a batch meter by meter, each meter's ticks in a row: the sun
        the sites share must be each instant's own, however the instants come and go."""
        times = [JUNE_S + 900.0 * tick for tick in range(40)]
        random = Random(3)
        # Past the memo's size, and back to instants of other days, so it starts again.
        times += [JUNE_S + random.uniform(-30, 30) * 86400.0
                  for _ in range(clear_sky._GEOCENTRIC_MEMO_SIZE + 50)]
        times += times[:40]
        sites = [site(52.0 + index / 100.0, 13.0 + index / 100.0) for index in range(3)]
        shared = [[one.at(time_s) for time_s in times] for one in sites]
        for index, one in enumerate(sites):
            alone = site(one.latitude_deg, one.longitude_deg)
            expected = []
            for time_s in times:
                clear_sky._geocentric_memo.clear()
                expected.append(alone.at(time_s))
            self.assertEqual(shared[index], expected)
        self.assertLessEqual(len(clear_sky._geocentric_memo), clear_sky._GEOCENTRIC_MEMO_SIZE)

    def test_a_day_sun_is_up_and_a_night_it_is_not(self) -> None:
        berlin = site(52.5, 13.4)
        noon = berlin.at(JUNE_S + 11 * 3600.0)
        self.assertIsNotNone(noon)
        assert noon is not None
        self.assertLess(noon.apparent_zenith_deg, 40.0)
        self.assertGreater(noon.clear.ghi_w_m2, 700.0)
        self.assertIsNone(berlin.at(JUNE_S))


if __name__ == "__main__":
    unittest.main()
