"""One model of a device's shares and cover marks; pure (imports runner.models only)."""
