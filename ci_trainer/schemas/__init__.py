"""Committed JSON Schemas (config, audit record) and the `schema` command."""
