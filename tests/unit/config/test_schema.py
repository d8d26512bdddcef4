"""The schema every key is read through: bounds, choices, defaults and records."""

from __future__ import annotations

import ast
import dataclasses
import inspect
import math
import os
import shutil
import tempfile
import unittest
from pathlib import Path
from typing import Any

from parameterized import parameterized

from pv_simulator.config import SCHEMA, SECTIONS, Config, ConfigError, Key, Kind, load_config, schema_key
from pv_simulator.models import household, pv_plant, random_walk
from tests.paths import ROOT


def section_of(config: Config, key: Key) -> Any:
    return getattr(config, key.section)


def as_text(key: Key, value: float) -> str:
    return repr(int(value)) if key.kind is Kind.INTEGER else repr(value)


def bound_cases(*, refused: bool) -> list[tuple[str, Key, str]]:
    """(name, key, text) just beyond or at every finite bound of the schema.

    Beyond a bound, and at an exclusive one, the reader must refuse; at an inclusive one it
    must read the value.
    """
    cases = []
    for key in SCHEMA:
        if key.kind not in (Kind.INTEGER, Kind.NUMBER, Kind.NUMBERS):
            continue
        for which, bound, exclusive, outward in (("low", key.low, key.low_exclusive, -1.0),
                                                 ("high", key.high, key.high_exclusive, 1.0)):
            if not math.isfinite(bound):
                continue
            step = 1 if key.kind is Kind.INTEGER else max(abs(bound), 1.0) * 1e-3
            name = f"{key.section}_{key.name}_{which}"
            if refused:
                cases.append((f"{name}_beyond", key, as_text(key, bound + outward * step)))
            if exclusive == refused:
                cases.append((f"{name}_at", key, as_text(key, bound)))
    return cases


class SchemaTest(unittest.TestCase):
    """The reader enforces each record of the schema, naming file, section and key."""

    def setUp(self) -> None:
        self.tmp = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, self.tmp)
        self.path = self.tmp / "broker.ini"

    def load(self, key: Key, text: str) -> Config:
        self.path.write_text(f"[{key.section}]\n{key.name} = {text}\n")
        return load_config(self.path)

    @parameterized.expand(bound_cases(refused=True))
    def test_value_beyond_a_bound_is_refused(self, _name: str, key: Key, text: str) -> None:
        with self.assertRaises(ConfigError) as caught:
            self.load(key, text)
        message = str(caught.exception)
        self.assertTrue(message.startswith(f"{self.path}: [{key.section}] {key.name}: "), message)
        self.assertIn("is out of range", message)
        self.assertNotIn("\n", message)

    @parameterized.expand(bound_cases(refused=False))
    def test_value_at_an_inclusive_bound_is_read(self, _name: str, key: Key, text: str) -> None:
        assert key.target is not None
        expected = int(text) if key.kind is Kind.INTEGER else float(text)
        self.assertEqual(getattr(section_of(self.load(key, text), key), key.target),
                         (expected,) if key.kind is Kind.NUMBERS else expected)

    @parameterized.expand([(f"{key.section}_{key.name}", key) for key in SCHEMA
                           if key.kind is Kind.CHOICE])
    def test_choices_are_enforced(self, _name: str, key: Key) -> None:
        assert key.target is not None
        for choice in key.choices:
            self.assertEqual(getattr(section_of(self.load(key, choice), key), key.target), choice)
        with self.assertRaises(ConfigError) as caught:
            self.load(key, "nonsense")
        self.assertEqual(str(caught.exception),
                         f"{self.path}: [{key.section}] {key.name}: 'nonsense' is not one of "
                         f"{', '.join(key.choices)}")

    @parameterized.expand([(f"{key.section}_{key.name}", key) for key in SCHEMA
                           if key.kind in (Kind.INTEGER, Kind.NUMBER, Kind.NUMBERS)])
    def test_text_is_not_a_number(self, _name: str, key: Key) -> None:
        with self.assertRaises(ConfigError) as caught:
            self.load(key, "abc")
        self.assertTrue(str(caught.exception).startswith(
            f"{self.path}: [{key.section}] {key.name}: 'abc' is not "), str(caught.exception))

    def test_every_stored_key_fills_a_field_with_the_schema_default(self) -> None:
        cwd = os.getcwd()
        os.chdir(self.tmp)
        self.addCleanup(os.chdir, cwd)
        with self.assertLogs("pv_simulator.config", "WARNING"):
            config = load_config(None)
        for key in SCHEMA:
            if key.target is None or key.default_factory is not None:
                continue
            settings = section_of(config, key)
            names = {f.name for f in dataclasses.fields(settings)}
            self.assertIn(key.target, names, key)
            self.assertEqual(getattr(settings, key.target), key.default, key)

    def test_every_key_has_a_one_line_meaning_and_a_known_section(self) -> None:
        self.assertEqual(SECTIONS, ("broker", "site", "pv", "meter", "output", "fleet", "battery",
                                    "control", "modbus"))
        self.assertEqual(len({(key.section, key.name) for key in SCHEMA}), len(SCHEMA))
        for key in SCHEMA:
            self.assertTrue(key.meaning and "\n" not in key.meaning and "|" not in key.meaning, key)

    def test_schema_key_finds_a_record_or_says_which_is_missing(self) -> None:
        self.assertEqual(schema_key("pv", "losses_pct").high, 100.0)
        with self.assertRaisesRegex(KeyError, r"\[pv\] clouds"):
            schema_key("pv", "clouds")


class ModelDefaultsTest(unittest.TestCase):
    """The models own the defaults that are model parameters; the schema only refers to them."""

    @parameterized.expand([
        ("solar", pv_plant.SolarPvModel, "pv"),
        ("weather", pv_plant.WeatherPvModel, "pv"),
        ("household", household.HouseholdModel, "meter"),
        ("random_walk", random_walk.RandomWalkModel, "meter"),
    ])
    def test_a_models_defaults_are_the_schemas(self, _name: str, model: type, section: str) -> None:
        keys = {key.target: key for key in SCHEMA if key.section in (section, "site") and key.target}
        compared = 0
        for parameter in inspect.signature(model).parameters.values():
            key = keys.get(parameter.name)
            if (key is None or parameter.default in (inspect.Parameter.empty, None)
                    or key.default is None):
                continue  # required, or None: the site's climate, a file's header, the model's table
            self.assertEqual(parameter.default, key.default, f"{model.__name__}({parameter.name})")
            compared += 1
        self.assertGreater(compared, 0)

    def test_no_model_imports_the_configuration(self) -> None:
        for path in (ROOT / "pv_simulator" / "models").rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                modules = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                           else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
                for module in modules:
                    self.assertFalse(module.startswith("pv_simulator.config"), f"{path}: {module}")
