"""cxloop: closed-loop client-experience management for public employment services."""

__version__ = "0.1.0"
