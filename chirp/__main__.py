import sys

from chirp.cli import main

sys.exit(main())
