"""Command-line value types: what each accepts, and the one phrase for what it refuses."""

from __future__ import annotations

import argparse
import unittest

from parameterized import parameterized

from pv_simulator import arguments


class ArgumentTypesTest(unittest.TestCase):
    @parameterized.expand([
        ("positive", arguments.positive, "2.5", 2.5),
        ("non_negative", arguments.non_negative, "0", 0.0),
        ("non_negative_int", arguments.non_negative_int, "7", 7),
        ("hours", arguments.hours, "24", 24.0),
        ("port_any", arguments.port, "0", 0),
        ("port_top", arguments.port, "65535", 65535),
    ])
    def test_accepts(self, _name: str, convert: object, text: str, expected: object) -> None:
        assert callable(convert)
        self.assertEqual(convert(text), expected)

    @parameterized.expand([
        ("positive_zero", arguments.positive, "0", "'0' must be a positive number"),
        ("positive_inf", arguments.positive, "inf", "'inf' must be a positive number"),
        ("positive_nan", arguments.positive, "nan", "'nan' must be a positive number"),
        ("non_negative", arguments.non_negative, "-1", "'-1' must be 0 or a positive number"),
        ("not_a_number", arguments.non_negative, "x", "'x' is not a number"),
        ("fraction", arguments.non_negative_int, "1.5", "'1.5' is not a whole number"),
        ("hours", arguments.hours, "9000", "'9000' must be a number of hours above 0, at most a year"),
        ("port_high", arguments.port, "70000", "70000 is not in 0..65535"),
        ("port_negative", arguments.port, "-1", "-1 is not in 0..65535"),
        ("port_text", arguments.port, "http", "'http' is not a port number"),
    ])
    def test_refuses_in_one_phrase(self, _name: str, convert: object, text: str, message: str) -> None:
        assert callable(convert)
        with self.assertRaises(argparse.ArgumentTypeError) as caught:
            convert(text)
        self.assertEqual(str(caught.exception), message)

    @parameterized.expand([("127.0.0.1", "127.0.0.1"), ("::1", "[::1]"), ("localhost", "localhost")])
    def test_url_host_brackets_ipv6(self, host: str, shown: str) -> None:
        self.assertEqual(arguments.url_host(host), shown)


if __name__ == "__main__":
    unittest.main()
