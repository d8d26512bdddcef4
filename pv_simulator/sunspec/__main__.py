"""``python -m pv_simulator.sunspec``: print the register map, or rewrite it in a document."""

import sys

from pv_simulator.sunspec.docs import main

if __name__ == "__main__":
    sys.exit(main())
