"""Replays of the attacks in the security issue (issue 14); each fails on the code before
its fix."""
