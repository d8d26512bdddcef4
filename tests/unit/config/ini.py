"""What the configuration tests share: a scratch folder and a file written in it."""

from __future__ import annotations

import shutil
import tempfile
import unittest
from pathlib import Path


class IniFileTest(unittest.TestCase):
    """A test with a scratch folder, ``self.tmp``, and ``write`` for its broker.ini."""

    def setUp(self) -> None:
        self.tmp = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.addCleanup(self._owner_may_delete)

    def _owner_may_delete(self) -> None:
        for path in self.tmp.iterdir():
            path.chmod(0o600)

    def write(self, text: str) -> Path:
        path = self.tmp / "broker.ini"
        path.write_text(text)
        return path
