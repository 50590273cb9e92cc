"""``X-Forwarded-Proto``, ``X-Forwarded-Host`` and ``X-Forwarded-For``, taken only from the
proxies labstac is told to trust (``LABSTAC_FORWARDED_ALLOW_IPS``, as uvicorn's
``forwarded_allow_ips``), and dropped from every other request before the app sees it.

Links in every response (``next`` among them, which clients follow with their token) are
built from the scheme and host a request arrives with: from anyone, these headers would
point them anywhere. What a trusted proxy says is checked too: the scheme is http or https,
the host a host name or address with an optional port.
"""

from __future__ import annotations

import ipaddress
import re

from starlette.types import ASGIApp, Receive, Scope, Send

FORWARDED = (b"x-forwarded-proto", b"x-forwarded-host", b"x-forwarded-for")
SCHEMES = ("http", "https")
_HOST = re.compile(
    r"^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?$"
)


def valid_host(host: str) -> bool:
    """A host name or IP address with an optional port, nothing else."""
    return bool(_HOST.match(host))


class ForwardedHeadersMiddleware:
    def __init__(self, app: ASGIApp, trusted: list[str]) -> None:
        self.app = app
        self._any = "*" in trusted
        self._networks = [
            ipaddress.ip_network(entry, strict=False) for entry in trusted if entry != "*"
        ]

    def _trusts(self, address: str | None) -> bool:
        if self._any:
            return True
        if not address:
            return False
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self._networks)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        peer = scope.get("client")
        forwarded: dict[bytes, str] = {}
        headers = []
        for name, value in scope["headers"]:
            if name in FORWARDED:
                # Several lines of one header are one list, in order (a proxy may add a
                # line of its own instead of appending to the client's).
                text = value.decode("latin-1")
                forwarded[name] = f"{forwarded[name]},{text}" if name in forwarded else text
            else:
                headers.append((name, value))
        scope = {**scope, "headers": headers}
        if forwarded and self._trusts(peer[0] if peer else None):
            self._apply(scope, forwarded)
        await self.app(scope, receive, send)

    def _apply(self, scope: Scope, forwarded: dict[bytes, str]) -> None:
        # The nearest proxy's word is the rightmost: it is the one labstac trusts.
        proto = forwarded.get(b"x-forwarded-proto", "").split(",")[-1].strip().lower()
        if proto in SCHEMES:
            scope["scheme"] = proto
        host = forwarded.get(b"x-forwarded-host", "").split(",")[-1].strip()
        if host and valid_host(host):
            scope["headers"] = [(n, v) for n, v in scope["headers"] if n != b"host"]
            scope["headers"].append((b"host", host.encode("latin-1")))
        client = self._client(forwarded.get(b"x-forwarded-for", ""))
        if client is not None:
            port = scope["client"][1] if scope.get("client") else 0
            scope["client"] = (client, port)

    def _client(self, chain: str) -> str | None:
        """The first address from the right that is not a trusted proxy: the client."""
        hops = [hop.strip() for hop in chain.split(",") if hop.strip()]
        for hop in reversed(hops):
            try:
                ipaddress.ip_address(hop)
            except ValueError:
                return None
            if not self._trusts(hop) or hop == hops[0]:
                return hop
        return None
