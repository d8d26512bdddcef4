"""`make demo`: a simulated summer day of a five-house fleet through both CLIs, summary and plots.

It runs the real commands a user would, in a virtual host of its own
(``pv-simulator-demo``, made afresh each run when the broker is on this machine)
so earlier readings in the user's queues do not mix in, and writes to a fresh
``demo-out/``. The houses are ``examples/fleet.ini``'s fleet (``examples/fleet.csv``) under the
shipped PVGIS typical year, each with its own plant and consumption. A second, one-meter run
with ``examples/challenge.ini`` draws the solar model beside the challenge's reference curve.
"""

from __future__ import annotations

import configparser
import contextlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pv_simulator.config import load_config  # noqa: E402
from pv_simulator.models.challenge_curve import CHALLENGE_CURVE_PATH  # noqa: E402
from pv_simulator.storage.csv_format import file_glob  # noqa: E402
from pv_simulator.summary import format_summary, read_rows, summarize  # noqa: E402

OUT = ROOT / "demo-out"
VHOST = "pv-simulator-demo"
FLEET_INI = ROOT / "examples" / "fleet.ini"
METERS = ["Meter_0", "Meter_1", "Meter_2", "Meter_3", "Meter_4"]
LIVE_PORT = 8050
# Keys naming files, relative to their configuration file's folder.
_FILE_KEYS = (("pv", "weather"), ("fleet", "file"))


def rabbitmqctl(*args: str) -> bool:
    """Run rabbitmqctl quietly; False when it is not available or fails."""
    command = ["rabbitmqctl", "-q", *args]
    if os.geteuid() != 0:
        command = ["sudo", "-n", *command]
    env = dict(os.environ, PATH=os.environ.get("PATH", "") + ":/usr/sbin")
    try:
        return subprocess.run(command, capture_output=True, env=env, timeout=120).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def demo_config(source: Path, target: Path, houses: Path | None = None) -> Path:
    """``source`` with the demo's own, emptied virtual host when the broker is local, and
    ``houses``' sections other than [broker]; file names made absolute for the copy."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(source)
    if houses is not None:
        extra = configparser.ConfigParser(interpolation=None)
        extra.read(houses)
        for section in extra.sections():
            if section != "broker":
                parser[section] = dict(extra[section])
        for section, key in _FILE_KEYS:
            if parser.has_option(section, key):
                parser[section][key] = str(houses.parent / parser[section][key])
    if not parser.has_section("broker"):
        parser.add_section("broker")
    host = parser["broker"].get("host", "localhost")
    if host in ("localhost", "127.0.0.1", "::1"):
        rabbitmqctl("delete_vhost", VHOST)
        if rabbitmqctl("add_vhost", VHOST) and rabbitmqctl(
                "set_permissions", "-p", VHOST, parser["broker"].get("username", "guest"),
                ".*", ".*", ".*"):
            parser["broker"]["virtual_host"] = VHOST
    if parser["broker"].get("virtual_host", "/") != VHOST:
        print(f"demo: using virtual host {parser['broker'].get('virtual_host', '/')!r} of "
              f"{source}; readings already queued for {', '.join(METERS)} will be written too")
    with target.open("w") as handle:
        parser.write(handle)
    return target


def simulate(conf: Path, meters: int, start: str, interval_s: int, out: Path) -> float:
    """Run meter and PV service side by side over one simulated day; wall seconds taken."""
    ids = [f"Meter_{i}" for i in range(meters)]
    began = time.monotonic()
    service = subprocess.Popen(
        [sys.executable, str(ROOT / "demo_pv_service.py"), "-conf", str(conf), "-ids", *ids,
         "--output-dir", str(out), "--exit-when-idle", "3", "--log-level", "WARNING", "--publish"])
    meter = subprocess.run(
        [sys.executable, str(ROOT / "demo_meter.py"), "-conf", str(conf), "-nb", str(meters),
         "--start", start, "--interval", str(interval_s), "--speed", "0", "--duration", "86400",
         "--seed", "42", "--log-level", "WARNING"])
    if meter.returncode != 0:
        service.terminate()
        service.wait()
        sys.exit(f"demo: the meter failed with exit code {meter.returncode}")
    if service.wait() != 0:
        sys.exit(f"demo: the PV service failed with exit code {service.returncode}")
    return time.monotonic() - began


def start_live_view(conf: Path) -> subprocess.Popen[bytes] | None:
    """The live view of the results the demo publishes, on loopback; None if it cannot start."""
    live = subprocess.Popen([sys.executable, "-m", "pv_simulator.live", "-conf", str(conf),
                             "--port", str(LIVE_PORT), "--log-level", "WARNING"], cwd=ROOT)
    try:
        code = live.wait(timeout=2)
    except subprocess.TimeoutExpired:
        print(f"demo: live view at http://127.0.0.1:{LIVE_PORT}/ (results stream to it as the "
              "day is simulated)")
        return live
    print(f"demo: the live view did not start (exit code {code}); going on without it")
    return None


def stop_live_view(live: subprocess.Popen[bytes] | None) -> None:
    """Keep the live view for a look when someone is at the terminal, then stop it."""
    if live is None:
        return
    if sys.stdin.isatty():
        with contextlib.suppress(EOFError, KeyboardInterrupt):
            input(f"demo: the live view stays at http://127.0.0.1:{LIVE_PORT}/ until you press Enter ")
    live.terminate()
    live.wait(timeout=10)


def plot(csvs: list[Path], png: Path, timezone: str, *extra: str) -> None:
    result = subprocess.run([sys.executable, "-m", "pv_simulator.plot", *map(str, csvs), "-o",
                             str(png), "--timezone", timezone, *extra], cwd=ROOT)
    if result.returncode != 0:
        sys.exit(f"demo: plotting {png.name} failed")


def main() -> None:
    source = Path(os.environ.get("CONF", ROOT / "broker.ini"))
    if not source.is_absolute():
        source = ROOT / source
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir()

    conf = demo_config(source, OUT / "demo.ini", FLEET_INI)
    site_tz = load_config(conf).site.timezone
    timezone = site_tz.key
    print(f"demo: the {len(METERS)} houses of examples/fleet.ini over 2026-06-21 at 5 s "
          f"intervals, PVGIS typical-year weather, as fast as possible (broker of {source.name})")
    live = start_live_view(conf)
    seconds = simulate(conf, len(METERS), "2026-06-21T00:00", 5, OUT)
    csvs = sorted(OUT.glob(file_glob()))
    print(f"demo: simulated the day in {seconds:.1f} s; CSV files in {OUT}:")
    for path in csvs:
        print(f"  {path.relative_to(ROOT)}")
    print(format_summary(summarize(read_rows(csvs), site_tz)))
    for path in csvs:
        plot([path], path.with_suffix(".png"), timezone)

    challenge = OUT / "challenge"
    challenge.mkdir()
    conf = demo_config(ROOT / "examples" / "challenge.ini", challenge / "challenge.ini")
    simulate(conf, 1, "2026-05-28T00:00", 10, challenge)
    challenge_tz = load_config(ROOT / "examples" / "challenge.ini").site.timezone.key
    plot(sorted(challenge.glob(file_glob("Meter_0"))), challenge / "challenge.png", challenge_tz,
         "--reference", str(CHALLENGE_CURVE_PATH))
    pngs = sorted(p.relative_to(ROOT) for p in OUT.rglob("*.png"))
    print("demo: plots " + ", ".join(map(str, pngs)))
    stop_live_view(live)


if __name__ == "__main__":
    main()
