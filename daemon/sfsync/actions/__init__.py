"""What each command does, apart from parsing its options and printing (that is cli.py)."""
