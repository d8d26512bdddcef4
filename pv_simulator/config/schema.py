"""Every configuration key, declared once: :data:`SCHEMA`.

The defaults that are model parameters are the models' own (``pv_plant``, ``household``,
``random_walk``); the configuration only refers to them.
"""

from __future__ import annotations

from typing import Any

from pv_simulator.config import parsers
from pv_simulator.config.keys import Key, Kind
from pv_simulator.config.timezone import local_timezone
from pv_simulator.messaging.wire import MAX_READINGS_PER_MESSAGE
from pv_simulator.models import household, pv_plant, random_walk, site
from pv_simulator.models.site import MODES

PASSWORD_ENV = "PV_BROKER_PASSWORD"

AMQPS_PORT = 5671
"""The port with TLS when ``port`` is not given; without TLS it is the ``port`` key's default."""


def _file_key(section: str, name: str, meaning: str, shown_default: str) -> Key:
    """A key naming a file relative to the configuration file's folder; none by default."""
    return Key(section, name, Kind.CUSTOM, None, meaning + "; a path relative to the configuration file's folder",
               parse=parsers.relative_path, expected="a file name", shown_default=shown_default)


SCHEMA: tuple[Key, ...] = (
    Key("broker", "host", Kind.TEXT, "localhost", "RabbitMQ host"),
    Key("broker", "port", Kind.INTEGER, 5672, "AMQP port", low=1, high=65535,
        shown_default=f"5672, {AMQPS_PORT} with TLS"),
    Key("broker", "virtual_host", Kind.TEXT, "/", "virtual host"),
    Key("broker", "username", Kind.TEXT, "guest",
        "login; logs show `amqp://user:***@host:port/vhost`"),
    Key("broker", "password", Kind.CUSTOM, "guest",
        "the login's password, never logged (see Passwords)", parse=str, expected="text"),
    Key("broker", "password_file", Kind.CUSTOM, None,
        f"read the password from this file; `{PASSWORD_ENV}` in the environment overrides it",
        parse=parsers.path, expected="a file name", combined=True),
    Key("broker", "connection_attempts", Kind.INTEGER, 5,
        "tries to reach the broker at start before giving up (exit 1)", low=1, high=1000),
    Key("broker", "retry_delay", Kind.NUMBER, 2.0,
        "seconds before the second try, doubling (with jitter) up to 5 s (or retry_delay if "
        "larger): a broker that is back is found within seconds",
        low=0.0, high=3600.0, attribute="retry_delay_s"),
    Key("broker", "heartbeat", Kind.INTEGER, 30,
        "AMQP heartbeat, s: a dead broker is noticed within about twice that",
        low=0, high=3600, attribute="heartbeat_s"),
    Key("broker", "blocked_connection_timeout", Kind.NUMBER, 60.0,
        "s a connection may stay blocked by a broker alarm before it is dropped and retried",
        low=0.0, high=86400.0, low_exclusive=True, attribute="blocked_connection_timeout_s"),
    Key("broker", "url", Kind.CUSTOM, (),
        "the broker as `amqp[s]://user:password@host:port/vhost` URL(s), one per node, "
        "instead of the separate keys (see Broker addresses)",
        parse=parsers.urls, expected="a list of amqp:// or amqps:// URLs", combined=True,
        shown_default="none"),
    Key("broker", "hosts", Kind.CUSTOM, (),
        "several `host:port` nodes tried in turn, instead of `host` and `port`",
        parse=parsers.host_list, expected="a list of host:port", combined=True,
        shown_default="`host`:`port`"),
    Key("broker", "tls", Kind.BOOLEAN, False,
        "TLS, always verifying the broker's certificate (see TLS)", combined=True),
    Key("broker", "ca_file", Kind.CUSTOM, None,
        "CA certificate(s) that signed the broker's certificate; only with TLS",
        parse=parsers.readable_file, expected="a readable file", combined=True,
        shown_default="the system's CAs"),
    Key("broker", "cert_file", Kind.CUSTOM, None,
        "client certificate, together with `key_file`; only with TLS",
        parse=parsers.readable_file, expected="a readable file", combined=True),
    Key("broker", "key_file", Kind.CUSTOM, None,
        "the client certificate's unencrypted key; only with TLS",
        parse=parsers.readable_file, expected="a readable file", combined=True),
    Key("broker", "server_hostname", Kind.CUSTOM, None,
        "name the broker's certificate is verified for; only with TLS",
        parse=parsers.optional_text, expected="a host name", combined=True,
        shown_default="the host connected to"),
    Key("broker", "queue_type", Kind.CHOICE, "classic",
        "`quorum` replicates the meter queues over a cluster", choices=("classic", "quorum")),
    Key("broker", "layout", Kind.CHOICE, "queue_per_meter",
        "`queue_per_meter`: each meter's readings on a queue named after it; `partitioned`: "
        "on `partitions` queues shared by all meters, for thousands of meters (README: "
        "Layouts)", choices=("queue_per_meter", "partitioned")),
    Key("broker", "transport", Kind.CHOICE, "rabbitmq",
        "`rabbitmq`: the meter and PV service talk over RabbitMQ; `memory`: over the in-memory "
        "broker, both in one process, as the dataset command runs them (docs/datasets.md)",
        choices=("rabbitmq", "memory")),
    Key("broker", "partitions", Kind.INTEGER, 4,
        "queues of the partitioned layout, `pv.readings.<N>p.0` to `.<N-1>`; a meter's are all "
        "on one, CRC-32 of its id modulo N; meters and PV services must agree", low=1, high=256),
    Key("broker", "readings_per_message", Kind.INTEGER, 1,
        "readings of one queue the meter packs into one message, one JSON object a line (a "
        "tick's of a partition): the broker's cost is per message, so 100 with the partitioned "
        "layout carries 10,000 meters a second (README: Performance); PV services read either",
        low=1, high=MAX_READINGS_PER_MESSAGE),
    Key("site", "timezone", Kind.CUSTOM, None, "for file dates and local times",
        parse=parsers.zone, expected="an IANA time zone such as Europe/Vienna",
        default_factory=local_timezone, shown_default="the machine's zone"),
    Key("site", "latitude", Kind.NUMBER, 48.2, "the plant's site, degrees north (Vienna)",
        low=-90.0, high=90.0, attribute="latitude_deg"),
    Key("site", "longitude", Kind.NUMBER, 16.37, "the plant's site, degrees east (Vienna)",
        low=-180.0, high=180.0, attribute="longitude_deg"),
    Key("site", "altitude_m", Kind.NUMBER, 194.0, "the plant's height above sea level, m",
        low=-500.0, high=9000.0),
    Key("site", "country", Kind.CUSTOM, household.DEFAULT_COUNTRY,
        "country whose public holidays the household profile keeps (ISO 3166-1 alpha-2)",
        parse=parsers.country, expected="a two-letter country code such as DE, AT or CH"),
    Key("site", "subdivision", Kind.CUSTOM, None,
        "state or region of `country` with its own holidays, e.g. BY (ISO 3166-2 suffix)",
        parse=parsers.optional_text, expected="a subdivision code such as BY",
        shown_default="the country's national holidays"),
    Key("pv", "model", Kind.CHOICE, "solar",
        "`solar`: the physical chain; `reference`: the challenge's curve",
        choices=("solar", "reference")),
    Key("pv", "peak_power_kw", Kind.NUMBER, pv_plant.DEFAULT_PEAK_POWER_KW, "DC peak power of the modules, kW",
        low=0.0, high=1e6, low_exclusive=True),
    Key("pv", "tilt_deg", Kind.NUMBER, pv_plant.DEFAULT_TILT_DEG, "module tilt from horizontal, degrees",
        low=0.0, high=90.0),
    Key("pv", "azimuth_deg", Kind.NUMBER, pv_plant.DEFAULT_AZIMUTH_DEG,
        "module azimuth clockwise from north, degrees (180 = south)", low=0.0, high=360.0),
    Key("pv", "dc_ac_ratio", Kind.NUMBER, pv_plant.DEFAULT_DC_AC_RATIO,
        "inverter AC limit = peak_power_kw / dc_ac_ratio", low=0.1, high=10.0),
    Key("pv", "losses_pct", Kind.NUMBER, pv_plant.DEFAULT_LOSSES_PCT,
        "PVWatts DC system losses (soiling, wiring, mismatch...), %",
        low=0.0, high=100.0, high_exclusive=True),
    Key("pv", "temperature_coefficient", Kind.NUMBER, pv_plant.DEFAULT_TEMPERATURE_COEFFICIENT,
        "power temperature coefficient, 1/K (crystalline silicon about -0.0035)",
        low=-0.02, high=0.0),
    Key("pv", "albedo", Kind.NUMBER, pv_plant.DEFAULT_ALBEDO, "ground reflectance", low=0.0, high=1.0),
    Key("pv", "linke_turbidity", Kind.NUMBERS, None,
        "haze of the clear sky; 12 values run January to December",
        low=1.0, high=10.0, counts=(1, 12),
        expected="one value or 12 comma-separated monthly values",
        shown_default="monthly climatology"),
    Key("pv", "air_temperature_c", Kind.NUMBER, None,
        "air temperature for the cell temperature, °C, constant; absent: the site's climate, a "
        "seasonal and daily cycle by latitude (see Weather). With `weather`: only where a generic "
        "file has no temperature column",
        low=-60.0, high=60.0, shown_default="climate"),
    Key("pv", "wind_speed_m_s", Kind.NUMBER, pv_plant.DEFAULT_WIND_SPEED_M_S,
        "wind speed for the cell temperature, m/s; with `weather`: only where a generic file has "
        "no wind column", low=0.0, high=60.0),
    Key("pv", "sky", Kind.CHOICE, pv_plant.SKY_VARIABLE,
        "`clear`: deterministic; `variable`: seeded clouds; not with `weather`",
        choices=(pv_plant.SKY_CLEAR, pv_plant.SKY_VARIABLE)),
    _file_key("pv", "weather",
              "replay this weather file (EPW, TMY3, PVGIS csv/json/epw, generic CSV; see Weather): "
              "its irradiance, temperature and wind replace `sky`, `air_temperature_c` and "
              "`wind_speed_m_s`, its header's site [site]'s position unless given",
              "none: the modelled sky"),
    Key("pv", "seed", Kind.INTEGER, None, "same seed, same sky"),
    _file_key("pv", "sky_climate",
              "the variable sky takes each month's clearness (its monthly K and how clear and "
              "overcast its days are) from this weather file (any format of `weather`) and "
              "generates new days with it for any year and seed (see docs/sky.md)",
              "none: a climatology by latitude"),
    Key("pv", "monthly_clearness", Kind.NUMBERS, None,
        "the variable sky's monthly clear-sky index K (Σ GHI / Σ clear-sky GHI), 12 values "
        "January to December (one value: every month); not with `sky_climate`", low=0.05,
        high=1.05, counts=(1, 12), expected="one value or 12 comma-separated monthly values",
        shown_default="none"),
    Key("meter", "model", Kind.CHOICE, "household",
        "`household`: the H0 load profile; `random-walk`: a bounded random walk",
        choices=("household", "random-walk")),
    Key("meter", "annual_energy_kwh", Kind.NUMBER, household.DEFAULT_ANNUAL_ENERGY_KWH,
        "the household's yearly consumption",
        low=0.0, high=1e7, low_exclusive=True),
    Key("meter", "max_power_w", Kind.NUMBER, random_walk.DEFAULT_MAX_POWER_W,
        "readings are clipped to it; the PV service rejects larger ones",
        low=0.0, high=1e7, low_exclusive=True),
    Key("meter", "profile", Kind.CHOICE, household.PROFILE_H25,
        "`h25`: BDEW 2025 household profile with [site]'s public holidays; `h0`: the older VDEW H0",
        choices=household.PROFILES),
    Key("meter", "buffer_s", Kind.NUMBER, 3600.0,
        "simulated seconds of readings per meter kept while the broker is away",
        low=0.0, high=30 * 86400.0),
    Key("meter", "buffer_max_readings", Kind.INTEGER, 500_000,
        "readings kept in all at most, whatever `buffer_s` asks (~200 bytes each: 10,000 meters "
        "at 1 s would otherwise buffer an hour, 7 GB)", low=1000, high=100_000_000),
    Key("output", "fsync", Kind.CHOICE, "batch",
        "`batch`: fsync each batch before acknowledging it; `always`: after each row; "
        "`never`: leave it to the OS", choices=("batch", "always", "never")),
    _file_key("fleet", "file", "a fleet CSV, one row per house overriding [site], [pv] and [meter] "
              "(see Fleet)", "none: every meter the configuration's house"),
    Key("output", "publish", Kind.BOOLEAN, False,
        "also publish each written row as a JSON result message (see Results stream); "
        "`--publish` turns it on too"),
    Key("output", "results_exchange", Kind.TEXT, "amq.topic",
        "the existing topic exchange the results go to, routing key `pv.results.<meter_id>`"),
    Key("output", "home_assistant", Kind.BOOLEAN, False,
        "Home Assistant MQTT discovery: a device per served meter with power and energy sensors, "
        "retained states, availability (see Home Assistant); `--home-assistant` turns it on too"),
    Key("output", "discovery_prefix", Kind.TEXT, "homeassistant",
        "Home Assistant's MQTT discovery prefix; its `<prefix>/status` birth republishes the configs"),
    Key("output", "mqtt_port", Kind.INTEGER, 1883,
        "the broker's MQTT port, for Home Assistant's retained messages and last will; host, TLS "
        "and login are [broker]'s (`VHOST:USER` for a virtual host other than `/`)", low=1, high=65535),
    Key("output", "expire_after", Kind.INTEGER, 300,
        "s without a new row after which Home Assistant shows a meter's sensors unavailable",
        low=1, high=86400, attribute="expire_after_s"),
    # The site: docs/site.md.
    Key("site", "export_limit_w", Kind.NUMBER, None,
        "the most the grid may take from the site, W; the PV is curtailed after the battery took "
        "what it can; 0 = zero feed-in", low=0.0, high=1e7),
    Key("battery", "capacity_kwh", Kind.NUMBER, 0.0,
        "usable capacity of the home battery, kWh; 0 = none (fleet column `battery_kwh`)",
        low=0.0, high=1e5),
    Key("battery", "max_charge_kw", Kind.NUMBER, None,
        "largest charging power, kW (fleet column `battery_kw`)", low=0.0, high=1e4,
        low_exclusive=True, shown_default=f"capacity_kwh / {site.DEFAULT_FULL_POWER_HOURS:g} h"),
    Key("battery", "max_discharge_kw", Kind.NUMBER, None,
        "largest discharging power, kW (fleet column `battery_kw`)", low=0.0, high=1e4,
        low_exclusive=True, shown_default=f"capacity_kwh / {site.DEFAULT_FULL_POWER_HOURS:g} h"),
    Key("battery", "round_trip_efficiency", Kind.NUMBER, site.DEFAULT_ROUND_TRIP_EFFICIENCY,
        "share of the energy charged that a discharge gives back; sqrt of it each way",
        low=0.0, high=1.0, low_exclusive=True),
    Key("battery", "soc_min_pct", Kind.NUMBER, site.DEFAULT_SOC_MIN_PCT,
        "the state of charge it never discharges below, %",
        low=0.0, high=100.0),
    Key("battery", "soc_max_pct", Kind.NUMBER, site.DEFAULT_SOC_MAX_PCT,
        "the state of charge it never charges above, %",
        low=0.0, high=100.0),
    Key("battery", "initial_soc_pct", Kind.NUMBER, site.DEFAULT_INITIAL_SOC_PCT,
        "state of charge of a site's first row; after that the last row's", low=0.0, high=100.0),
    Key("battery", "mode", Kind.CHOICE, site.DEFAULT_MODE,
        "`self_consumption`: charge from surplus PV, discharge to cover the household; `idle`; "
        "`setpoint`: follow the commanded `battery_setpoint_w`", choices=MODES),
    Key("control", "enabled", Kind.BOOLEAN, False,
        "take commands on `amq.topic`, routing key `pv.control.<METER_ID>` (docs/site.md: only "
        "with a broker only trusted users can write to); `--control` turns it on too"),
    # SunSpec over Modbus TCP: docs/sunspec.md.
    Key("modbus", "port", Kind.INTEGER, None,
        "serve every meter as a SunSpec device over Modbus TCP on this port, unit ids 1-247 in "
        "serving order, the next 247 on port + 1...; `--modbus-port` overrides it",
        low=1, high=65535, shown_default="none: no Modbus"),
    Key("modbus", "host", Kind.TEXT, "127.0.0.1",
        "the address the Modbus server listens on; loopback unless every client on the network "
        "may read the sites (and, with `control`, command them)"),
    Key("modbus", "control", Kind.BOOLEAN, False,
        "take writes to the controls (models 123 and 124) as commands, as [control] does over "
        "AMQP; off: every write is refused with ILLEGAL FUNCTION"),
)
"""Every key of every section, in the order the README lists them.

The bounds are the ones the models need, so a value the file accepts is one the plant can
simulate: ``peak_power_kw`` > 0; ``dc_ac_ratio`` >= 0.1, since an inverter ten times the array
is no design and the inverter rating divides by it; ``losses_pct`` < 100, so the plant produces
something; ``linke_turbidity`` 1 to 10, 1 being a clean dry Rayleigh atmosphere (no real sky is
clearer) and 10 a heavily polluted one; ``temperature_coefficient`` -0.02 to 0 per K: real
modules lie between about -0.002 (thin film) and -0.005 (older crystalline silicon), and at
-0.02 the PVWatts derate 1 + gamma (T - 25 C) already reaches zero at a 75 C cell, which a
summer roof attains, so anything steeper would switch a plant off on every hot day. It still
refuses the common slip of a value in %/K (-0.35).
"""

SECTIONS: tuple[str, ...] = tuple(dict.fromkeys(key.section for key in SCHEMA))
"""The sections a file may hold, in schema order."""


def schema_key(section: str, name: str) -> Key:
    """The record of ``[section] name``; KeyError when there is none."""
    for key in SCHEMA:
        if (key.section, key.name) == (section, name):
            return key
    raise KeyError(f"[{section}] {name}")


def default(section: str, name: str) -> Any:
    """A key's default, for the settings class attribute it fills."""
    return schema_key(section, name).default
