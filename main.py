"""Run chirp: ``python main.py`` serves the embedded default on 127.0.0.1:8000."""

import sys

from chirp.cli import main

if __name__ == "__main__":
    sys.exit(main())
