"""``python -m trainer``: the trainer's own process (the GUI launches it with QProcess).

OpenMP threads that busy-wait are disastrous when another process (the GUI screening photos, a
second job) wants the same cores: measured on a 2-core machine while another torch process ran,
a training step took about 50x longer with the default spin-waiting than with
``OMP_WAIT_POLICY=PASSIVE``. It must be set before torch (libgomp) is imported.
"""

import os
import sys

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from trainer.cli import main  # noqa: E402

sys.exit(main())
