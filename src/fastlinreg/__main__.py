"""``python -m fastlinreg``: the command line (see :mod:`fastlinreg.cli`)."""

import sys

from .cli import main

sys.exit(main())
