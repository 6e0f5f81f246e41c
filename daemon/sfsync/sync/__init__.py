"""One sync cycle: decide what to push where, then do it with failures isolated per connector."""
