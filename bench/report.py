"""What every benchmark report carries (when, on what machine, by which command) and where
it goes: ``bench/results/<name>-<UTC time>.json``."""

from __future__ import annotations

import json
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "system": f"{platform.system()} {platform.release()}",
    }


def write(name: str, benchmark: str, figures: dict[str, Any]) -> Path:
    """Write the report and return its path; figures are the benchmark's own."""
    now = datetime.now(UTC)
    report = {
        "benchmark": benchmark,
        "when": now.isoformat(timespec="seconds"),
        "machine": machine(),
        "command": f"python bench/{Path(sys.argv[0]).name} {' '.join(sys.argv[1:])}".strip(),
        **figures,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{name}-{now:%Y%m%dT%H%M%S}.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    return out
