"""sharebatch: share IoT devices with their users in bulk."""

__version__ = "0.1.0"
