"""`pip install .` gives the pv-meter and pv-service commands, equivalent to the demo scripts."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

from tests.paths import ROOT


class PackagingTest(unittest.TestCase):
    venv: Path
    @classmethod
    def setUpClass(cls) -> None:
        cls.venv = Path(tempfile.mkdtemp(prefix="pvtest-pip-"))
        # The build writes build/ and *.egg-info next to the sources: build a copy, not the repo.
        source = cls.venv / "source"
        shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
            ".git", ".venv*", "build", "*.egg-info", ".mypy_cache", ".ruff_cache", "__pycache__"))
        subprocess.run([sys.executable, "-m", "venv", str(cls.venv)], check=True, timeout=120)
        install = subprocess.run([str(cls.venv / "bin" / "pip"), "install", "-q",
                                  "--disable-pip-version-check", str(source)],
                                 capture_output=True, text=True, timeout=600)
        if install.returncode != 0:
            raise AssertionError(f"pip install . failed: {install.stderr[-2000:]}")

    @classmethod
    def tearDownClass(cls) -> None:
        shutil.rmtree(cls.venv, ignore_errors=True)

    def run_command(self, name: str, *args: str) -> subprocess.CompletedProcess[str]:
        workdir = tempfile.mkdtemp(prefix="pvtest-pip-run-")
        self.addCleanup(shutil.rmtree, workdir, True)
        return subprocess.run([str(self.venv / "bin" / name), *args], capture_output=True,
                              text=True, timeout=60, cwd=workdir)

    def test_commands_show_the_same_options(self) -> None:
        for name, script, option in (("pv-meter", "demo_meter.py", "--nb-meter"),
                                     ("pv-service", "demo_pv_service.py", "--meter-ids")):
            installed = self.run_command(name, "--help")
            self.assertEqual(installed.returncode, 0, installed.stderr)
            self.assertIn(option, installed.stdout)
            demo = subprocess.run([sys.executable, str(ROOT / script), "--help"],
                                  capture_output=True, text=True, timeout=60)
            # The usage line wraps by the program's name; what follows it must be the same.
            self.assertEqual(installed.stdout.split("\n\n", 1)[1], demo.stdout.split("\n\n", 1)[1])

    def test_installed_command_reports_errors_the_same_way(self) -> None:
        result = self.run_command("pv-service", "-ids", "Meter_0", "-conf", "missing.ini")
        self.assertEqual(result.returncode, 2)
        self.assertEqual(result.stderr.strip(),
                         "pv-service: error: missing.ini: configuration file not found")

    def test_package_data_is_installed(self) -> None:
        result = subprocess.run(
            [str(self.venv / "bin" / "python"), "-c",
             "from pv_simulator.models import challenge_curve; print(len(challenge_curve.read_curve()))"],
            capture_output=True, text=True, timeout=60, cwd=tempfile.gettempdir())
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertGreater(int(result.stdout), 10)

    def test_sunspec_model_definitions_are_installed(self) -> None:
        result = subprocess.run(
            [str(self.venv / "bin" / "python"), "-c",
             "from pv_simulator.sunspec.points import MODELS; print(' '.join(map(str, sorted(MODELS))))"],
            capture_output=True, text=True, timeout=60, cwd=tempfile.gettempdir())
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout.split(), ["1", "101", "103", "120", "123", "124", "203"])

    def test_live_view_is_installed_with_its_page(self) -> None:
        installed = self.run_command("pv-live", "--help")
        self.assertEqual(installed.returncode, 0, installed.stderr)
        self.assertIn("--window-hours", installed.stdout)
        result = subprocess.run(
            [str(self.venv / "bin" / "python"), "-c",
             "from pv_simulator.live.server import load_static; print(' '.join(sorted(load_static())))"],
            capture_output=True, text=True, timeout=60, cwd=tempfile.gettempdir())
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout.split(), ["index.html", "live.css", "live.js"])


if __name__ == "__main__":
    unittest.main()
