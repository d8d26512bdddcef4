"""``python -m pv_simulator.fleet``: the ``pv-fleet`` command."""

import sys

from pv_simulator.fleet.cli import main

sys.exit(main())
