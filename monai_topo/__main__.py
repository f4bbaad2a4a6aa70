from __future__ import annotations

import sys

from monai_topo.cli import main

sys.exit(main())
