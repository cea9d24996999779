"""The Cognigy.AI REST API v2.0 personality of the emulator (docs/cognigy-v2.md).

Built from the contract notes, not from a live tenant. It shares the v1 emulator's
classifier; scikit-learn is imported when the first training starts.
"""
