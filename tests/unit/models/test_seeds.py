"""The one seed derivation: it repeats, separates streams and keeps the meters' old seeds."""

from __future__ import annotations

import random
import unittest

from parameterized import parameterized

from pv_simulator.models.seeds import IndexedUniforms, derive_seed, derive_uniform, meter_stream


class DeriveSeedTest(unittest.TestCase):
    def test_reproduces_the_random_walks_former_sha256_seeds(self) -> None:
        """Values of the former meter_seed(seed, index), so seeded random-walk runs repeat."""
        self.assertEqual(derive_seed(1, 0), 11990938716539812860)
        self.assertEqual(derive_seed(42, 2), 14840890843343779510)
        self.assertEqual(derive_seed(-7, 0), 7286496658320053768)

    def test_none_stays_none_for_a_fresh_stream(self) -> None:
        self.assertIsNone(derive_seed(None, "household", 3))

    def test_paths_give_distinct_64_bit_seeds(self) -> None:
        seeds = {derive_seed(1, *path) for path in [(), (0,), (1,), ("household", 0), ("household", 1),
                                                      ("sky-day", 0), ("sky-regime", 0)]}
        self.assertEqual(len(seeds), 7)
        self.assertTrue(all(0 <= seed < 1 << 64 for seed in seeds))
        self.assertNotEqual(derive_seed(1, 0), derive_seed(2, 0))

    def test_uniform_is_uniform_and_deterministic(self) -> None:
        values = [derive_uniform(1, "s", index) for index in range(-2000, 2000)]
        self.assertTrue(all(0.0 <= value < 1.0 for value in values))
        self.assertAlmostEqual(sum(values) / len(values), 0.5, delta=0.02)
        self.assertEqual(values[:5], [derive_uniform(1, "s", index) for index in range(-2000, -1995)])
        self.assertNotEqual(derive_uniform(1, "s", 0), derive_uniform(2, "s", 0))

    def test_indexed_uniforms_are_derive_uniforms_draws(self) -> None:
        """The faster form for one stream's successive draws gives the very same numbers."""
        for seed, path in [(1, ("fridge",)), (1 << 63, ("s", 4)), (-7, ())]:
            draw = IndexedUniforms(seed, *path)
            self.assertEqual([draw(index) for index in range(-3, 50)],
                             [derive_uniform(seed, *path, index) for index in range(-3, 50)])

    def test_seeded_generators_repeat(self) -> None:
        first = random.Random(derive_seed(9, "household", 0)).random()
        self.assertEqual(first, random.Random(derive_seed(9, "household", 0)).random())
        self.assertNotEqual(first, random.Random(derive_seed(9, "household", 1)).random())


if __name__ == "__main__":
    unittest.main()


class MeterStreamTest(unittest.TestCase):
    @parameterized.expand([("Meter_0", 0), ("Meter_17", 17), ("house-7", "house-7"),
                           ("Meter_07", "Meter_07"), ("Meter_x", "Meter_x"), ("meter_3", "meter_3")])
    def test_a_meter_is_named_by_its_number_or_its_id(self, meter_id: str, expected: int | str) -> None:
        self.assertEqual(meter_stream(meter_id), expected)
