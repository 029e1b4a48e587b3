"""Entry point: ``python -m examples.sentiment --help``."""

from .cli import main

raise SystemExit(main())
