#!/usr/bin/env python3
"""Consume meter readings, add PV power and write per-meter CSV files (see --help)."""

from pv_simulator.cli import service_entry

if __name__ == "__main__":
    service_entry()
