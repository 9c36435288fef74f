"""Pocket Agent: an open prototype platform for pocket-sized AI agent devices."""

__version__ = "0.1.0"
