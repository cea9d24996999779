"""The one HTTP layer: retry policy and budget, base-URL rules, TLS trust, for the
training service and the webhook alike."""
