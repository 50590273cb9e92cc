"""A hook receiver for tests: a real HTTP server on 127.0.0.1 that records every request it
gets (path, headers, JSON body) and answers with a chosen status, after a chosen delay (to
make GitLab's timeout bite). Each path can stand for one hook: ``receiver.url("/system")``.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: Any
    at: float

    @property
    def event(self) -> str:
        return self.headers.get("X-Gitlab-Event", "")

    @property
    def event_name(self) -> str:
        body = self.body if isinstance(self.body, dict) else {}
        return str(body.get("event_name") or body.get("object_kind") or "")


class Receiver:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self.status = 200
        self.delay_seconds = 0.0
        self._cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body: Any = json.loads(raw)
                except ValueError:
                    body = raw.decode(errors="replace")
                # Header names as GitLab spells them (http.server keeps the sender's case).
                headers = dict(self.headers.items())
                with receiver._cond:
                    receiver.received.append(Received(self.path, headers, body, time.time()))
                    receiver._cond.notify_all()
                if receiver.delay_seconds:
                    time.sleep(receiver.delay_seconds)
                try:
                    self.send_response(receiver.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"{}")
                except OSError:
                    pass  # the sender gave up (a timeout test)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        # A short poll interval: stop() waits for the serving loop to notice.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def start(self) -> Receiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def url(self, path: str = "/") -> str:
        return f"{self.base_url}{path}"

    def at(self, path: str) -> list[Received]:
        with self._cond:
            return [r for r in self.received if r.path == path]

    def clear(self) -> None:
        with self._cond:
            self.received.clear()

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.received) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{len(self.received)} of {count} requests arrived")
                self._cond.wait(left)
            return list(self.received)
