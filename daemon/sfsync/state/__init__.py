"""The local state store: what is live where, what was pushed when, and what is paused."""
