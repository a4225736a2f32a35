"""Barometer: the CLI and settings that wire data → features → training → serving together."""

__version__ = "0.1.0"
