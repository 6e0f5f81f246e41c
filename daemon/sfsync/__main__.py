"""`python -m sfsync`: the command line, for when the console script is not on PATH."""

from sfsync.cli import main

if __name__ == "__main__":
    main()
