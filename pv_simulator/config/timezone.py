"""The machine's time zone, the default of ``[site] timezone``."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

log = logging.getLogger(__name__)


def local_timezone() -> ZoneInfo:
    """The machine's IANA time zone: ``TZ``, else ``/etc/localtime``, else UTC."""
    name = os.environ.get("TZ", "").lstrip(":")
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            log.warning("TZ=%r is not an IANA time zone; using /etc/localtime", name)
    localtime = Path("/etc/localtime")
    try:
        target = os.readlink(localtime)
    except OSError:
        target = ""
    if "zoneinfo/" in target:
        try:
            return ZoneInfo(target.split("zoneinfo/", 1)[1])
        except (ZoneInfoNotFoundError, ValueError):
            pass
    try:
        with localtime.open("rb") as tzfile:
            return ZoneInfo.from_file(tzfile, key="localtime")
    except (OSError, ValueError):
        return ZoneInfo("UTC")
