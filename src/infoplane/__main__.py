"""``python -m infoplane``: the command line, as the ``infoplane`` command."""

import sys

from .cli import main

sys.exit(main())
