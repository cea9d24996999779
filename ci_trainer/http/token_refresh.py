"""When an issued access token is renewed: the rule both backends' OAuth2 client
credentials share (cognigy-v1's tokens and Cognigy.AI's `/auth/oauth2/token`)."""

from __future__ import annotations

MAX_REFRESH_MARGIN = 300.0  # the seed's margin, kept as a ceiling for long-lived tokens
REFRESH_FRACTION = 0.1  # short tokens renew at 90 % of their lifetime, not on every call


def refresh_margin(lifetime: float) -> float:
    """Seconds before expiry at which a token is renewed."""
    return min(MAX_REFRESH_MARGIN, REFRESH_FRACTION * lifetime)
