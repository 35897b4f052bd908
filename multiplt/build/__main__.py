"""`python -m multiplt.build`: the command line lives in `multiplt.build_cli`, which imports the driver;
the driver imports nothing of its command line."""

from __future__ import annotations

import sys

from multiplt.build_cli import main

sys.exit(main())
