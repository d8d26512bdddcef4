"""What every test folder shares: polling with a deadline, and reading the PV service's CSV files."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from pv_simulator.storage.csv_format import check_header, file_glob, parse_row


def wait_until(condition: Callable[[], bool], timeout_s: float, what: str,
               interval_s: float = 0.05) -> None:
    """Poll ``condition`` until true; fail the test with ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(interval_s)


def read_csv(path: Path) -> list[dict[str, str]]:
    """A PV service file's complete rows (a site's columns too), each field as the file spells it, by
    column name.

    Header and rows must pass csv_format's checks. Text after the last newline is a row
    the service is still writing, so it is left out rather than read half.
    """
    lines = path.read_text(encoding="utf-8").split("\n")[:-1]
    if not lines:
        return []
    columns = check_header(lines[0], path)
    rows: list[dict[str, str]] = []
    for line_no, line in enumerate(lines[1:], start=2):
        parse_row(line, path, line_no, columns)
        rows.append(dict(zip(columns, line.split(","), strict=True)))
    return rows


def rows_of(directory: Path, meter_id: str) -> list[dict[str, str]]:
    """Every row of one meter, over all its dated files, in file order."""
    rows: list[dict[str, str]] = []
    for path in sorted(directory.glob(file_glob(meter_id))):
        rows.extend(read_csv(path))
    return rows


def files_of(directory: Path) -> dict[str, bytes]:
    """Every CSV file in ``directory``, by name, to the byte: what two runs that must write
    the same files are compared on."""
    return {path.name: path.read_bytes() for path in sorted(directory.glob("*.csv"))}


def energy_integral(rows: list[dict[str, str]], max_interval_s: float) -> dict[str, float]:
    """kWh of consumption, PV, grid import and export of a meter's rows, each row's power over
    the interval since the previous row (intervals not in (0, max_interval_s] count nothing; a
    site row's grid power is its own column, the battery in it, a plain row's meter - PV):
    the rule of pv_simulator.services.energy, written out again so the tests check it."""
    totals = {"consumption": 0.0, "pv": 0.0, "grid_import": 0.0, "grid_export": 0.0}
    previous: float | None = None
    for row in rows:
        time_s = float(row["time_s"])
        meter_w = float(row["meter_power_value_w"])
        pv_w = float(row["pv_power_value_kw"]) * 1000.0
        grid_w = float(row["grid_power_w"]) if row.get("grid_power_w") else meter_w - pv_w
        if previous is not None and 0.0 < time_s - previous <= max_interval_s:
            hours = (time_s - previous) / 3600.0
            totals["consumption"] += meter_w * hours / 1000.0
            totals["pv"] += pv_w * hours / 1000.0
            totals["grid_import"] += max(0.0, grid_w) * hours / 1000.0
            totals["grid_export"] += max(0.0, -grid_w) * hours / 1000.0
        previous = time_s
    return totals
