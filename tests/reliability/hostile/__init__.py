"""The hostile-input corpus: bad packages and bad configs, generated in code at test time."""
