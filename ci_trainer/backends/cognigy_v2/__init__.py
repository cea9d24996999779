"""`cognigy-v2`: Cognigy.AI REST API v2.0, its client and its emulator personality."""
