"""Which hosts are loopback: the only ones plain http is allowed for.

Standard library only, so the early token request (ci_trainer.startup) can use it
before the client's imports load.
"""

from __future__ import annotations

import ipaddress


def is_loopback(host: str) -> bool:
    """localhost, 127.0.0.0/8 or ::1: the only hosts plain http is allowed for."""
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
