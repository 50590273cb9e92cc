"""The hook spool on disk: entries survive, keep their order through failed drains, and a
file left by a dead process is drained by another."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from indexer.errors import UpstreamUnavailable
from indexer.spool import Spool


class Flaky:
    def __init__(self, fail_on: set[int]) -> None:
        self.fail_on = fail_on
        self.got: list[int] = []

    def __call__(self, entry: dict[str, Any]) -> None:
        if entry["n"] in self.fail_on:
            raise ConnectionError("queue down")
        self.got.append(entry["n"])


def test_entries_keep_their_order_through_failed_drains(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    for n in (1, 2, 3):
        spool.append({"n": n})
    first = Flaky({2})
    with pytest.raises(ConnectionError):
        spool.drain(first)
    assert first.got == [1]
    assert spool.pending() == 2
    spool.append({"n": 4})  # arrives while the queue is still down
    second = Flaky(set())
    assert spool.drain(second) == 3
    assert second.got == [2, 3, 4]
    assert spool.pending() == 0
    assert spool.drain(second) == 0


def test_a_dead_processs_file_is_drained(tmp_path: Path) -> None:
    orphan = tmp_path / "hooks-999999999.jsonl"  # no such pid
    orphan.write_text(json.dumps({"n": 7}) + "\n")
    spool = Spool(tmp_path)
    collector = Flaky(set())
    spool.drain(collector)  # claims the orphan
    spool.drain(collector)  # delivers it
    assert collector.got == [7]
    assert not list(tmp_path.iterdir())


def test_appends_are_durable_lines(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.append({"event": "push", "tasks": [{"name": "t", "args": [1]}]})
    (path,) = tmp_path.iterdir()
    assert path.name == f"hooks-{os.getpid()}.jsonl"
    assert json.loads(path.read_text()) == {"event": "push", "tasks": [{"name": "t", "args": [1]}]}


def test_a_disk_that_refuses_the_entry_is_said_not_hidden(tmp_path: Path) -> None:
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("a file where the spool folder should be")
    with pytest.raises(UpstreamUnavailable) as caught:
        Spool(blocked).append({"n": 1})
    assert caught.value.description.startswith("spool: cannot write")
