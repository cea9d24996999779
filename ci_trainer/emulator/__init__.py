"""What both emulator personalities share: serving, TLS, the classifier, problems, faults
and rate limits (usage and fault plan: docs/emulator.md).

Each personality lives with its backend (`ci_trainer.backends.<name>.emulator`).
Importing this package is cheap: scikit-learn is imported by the training worker only,
when the first training starts.
"""
