"""`python -m analytics ...`: the command line twin of the dashboard."""

import sys

from analytics.cli import main

sys.exit(main())
