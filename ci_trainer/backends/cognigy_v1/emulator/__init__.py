"""The v1 personality of the emulator: the whole service of openapi.yaml on a port."""
