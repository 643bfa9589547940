"""`python -m clients.mobile`: the command line client."""

import sys

from clients.mobile.cli import main

sys.exit(main())
