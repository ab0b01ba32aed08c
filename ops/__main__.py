"""`python -m ops ...` runs the same CLI as the `ecs-cicd` console script."""

import sys

from ops.entry import run

sys.exit(run())
