"""`python -m halo_c1 ...`: the `halo-c1` command from a clone, without installing the package."""

import sys

from halo_c1.cli import main

sys.exit(main())
