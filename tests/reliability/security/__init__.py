"""Replays of attacks on sfsync from another local user or a hostile server (issue: security
review); each test fails on the code before its fix.
"""
