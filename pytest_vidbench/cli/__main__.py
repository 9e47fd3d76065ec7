"""`python -m pytest_vidbench.cli`, for environments without the console script."""

import sys

from pytest_vidbench.cli import main

sys.exit(main())
