"""`sfsync run`: the long-running service systemd supervises (SPEC section 10)."""
