"""`python -m infra.images build|base|report` (make images)."""

import sys

from infra.images.build import main

sys.exit(main())
