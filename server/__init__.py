"""Linger: self-hosted, real-time on-site engagement server for online shops."""

__version__ = "0.1.0"
