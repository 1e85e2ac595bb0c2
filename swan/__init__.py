"""The Swan: push the button every 108 minutes to keep the world going."""

__version__ = "0.1.0"
