"""The API process serves searches and receives hooks; building items is the workers' job.
Loading the indexing stack (pystac, shapely and numpy, the reindexer) into the API would
cost every API process about 18 MiB for nothing (docs/benchmarks.md compares memory)."""

from __future__ import annotations

import subprocess
import sys

INDEXING_ONLY = ("pystac", "shapely", "numpy", "indexer.stac.items", "indexer.index.reindex")


def test_the_api_does_not_load_the_indexing_stack() -> None:
    probe = (
        "import sys, api.app, api.cli; "
        f"print(','.join(m for m in {INDEXING_ONLY!r} if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    ).stdout.strip()
    assert loaded == "", f"the API process imports {loaded}"
