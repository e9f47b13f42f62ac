"""``python -m trainer``: the trainer's own process (the GUI launches it with QProcess).

OpenMP threads that spin while waiting collapse when another process wants the same cores (the
GUI screening photos while a fine-tune runs). Measured on this 2-core machine, one training step
at 128 px: alone 0.32 s (spinning) vs 0.40 s (passive); beside another torch job 1.1-3.5 s
(spinning) vs 0.58-0.66 s (passive), and up to ~50x slower when several jobs spun at once. So
the trainer waits passively unless ``OMP_WAIT_POLICY`` is already set; this must happen before
torch (libgomp) is imported.
"""

import os
import sys

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from trainer.cli import main  # noqa: E402

sys.exit(main())
