"""Backends: the training services the pipeline can drive, behind one interface."""
