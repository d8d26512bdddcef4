"""``python -m pv_simulator.config``: print the configuration tables, or rewrite them in a document."""

import sys

from pv_simulator.config.docs import main

if __name__ == "__main__":
    sys.exit(main())
