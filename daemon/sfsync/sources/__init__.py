"""Where published packages come from: a drop folder or an HTTP URL."""
