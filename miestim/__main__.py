"""``python -m miestim validate ...``: see :mod:`miestim.cli`."""

import sys

from .cli import main

sys.exit(main())
