"""`cognigy-v1`: the tutorial's REST contract (openapi.yaml), its client and its emulator."""
