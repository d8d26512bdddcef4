"""The INI configuration both services read, validated into typed settings.

Every key is declared once, as a :class:`Key` record in :data:`SCHEMA`: its section, name,
kind, default, bounds or choices and meaning. The reader, the unknown-section and unknown-key
checks, the error messages and the README's configuration tables (:func:`markdown_tables`) all
come from those records, so a new key is one record plus the typed attribute that holds it.

Every mistake a user can make in the file is a :class:`ConfigError` whose message names the
file, the section and key, and what was expected (``FILE: [section] key: message``), so the
command-line tools can print it as one line and exit with code 2.

``python -m pv_simulator.config --update-readme README.md`` rewrites the README's tables.

The modules, lowest first: ``keys`` (how a key's text becomes a value), ``parsers`` (the custom
conversions), ``timezone`` (the machine's zone), ``schema`` (every key), ``section`` (one section
read, :class:`ConfigError`), ``broker`` and ``settings`` (the typed settings), ``loading`` (a file
read) and ``docs`` (the tables and their command). The package exports what a reader of a
file needs; the settings of each section are in ``settings``.
"""

from pv_simulator.config.broker import BrokerConfig, TlsConfig
from pv_simulator.config.docs import TABLES_END, TABLES_START, main, markdown_tables, with_markdown_tables
from pv_simulator.config.keys import InvalidValue, Key, Kind
from pv_simulator.config.loading import DEFAULT_CONFIG_FILE, load_config
from pv_simulator.config.schema import AMQPS_PORT, PASSWORD_ENV, SCHEMA, SECTIONS, schema_key
from pv_simulator.config.section import ConfigError
from pv_simulator.config.settings import Config
from pv_simulator.config.timezone import local_timezone

__all__ = [
    "AMQPS_PORT",
    "DEFAULT_CONFIG_FILE",
    "PASSWORD_ENV",
    "SCHEMA",
    "SECTIONS",
    "TABLES_END",
    "TABLES_START",
    "BrokerConfig",
    "Config",
    "ConfigError",
    "InvalidValue",
    "Key",
    "Kind",
    "TlsConfig",
    "load_config",
    "local_timezone",
    "main",
    "markdown_tables",
    "schema_key",
    "with_markdown_tables",
]
