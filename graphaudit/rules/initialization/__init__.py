"""GA2xx: pretrained variables that are uninitialized, re-initialized, or renamed away from their checkpoint."""
