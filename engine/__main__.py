"""``python -m engine`` is the ``poxscreen`` command."""

import sys

from engine.cli import main

sys.exit(main())
