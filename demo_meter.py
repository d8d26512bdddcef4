#!/usr/bin/env python3
"""Mock household meters and publish their readings to RabbitMQ (see --help)."""

from pv_simulator.cli import meter_entry

if __name__ == "__main__":
    meter_entry()
