"""ci-trainer: gate NLU model training in CI."""

__version__ = "0.1.0"
