"""`python -m ops ...` runs the same CLI as the `ecs-cicd` console script."""

import sys

from ops.cli import main

sys.exit(main())
