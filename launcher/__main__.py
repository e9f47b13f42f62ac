"""``python -m launcher``: the same as the ``poxscreen`` command and the packaged ``PoxScreen``."""

import sys

from launcher import main

sys.exit(main())
