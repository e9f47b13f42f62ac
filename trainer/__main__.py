"""``python -m trainer``: the trainer's own process (the GUI launches it with QProcess)."""

import sys

from trainer.cli import main

sys.exit(main())
