"""`python -m bridge.worker`: the worker alone, without the web app (`loop.main`)."""

import sys

from bridge.worker.loop import main

if __name__ == "__main__":
    sys.exit(main())
