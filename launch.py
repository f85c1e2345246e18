"""Start Tune Studio: `python launch.py [--host H] [--port P] [--workspace DIR] [--lang en|zh]
[--share] [--auth USER:PASS | --auth-file FILE]`."""

import sys

from studio.ui.launch import main

if __name__ == "__main__":
    sys.exit(main())
