"""The `ecs-cicd` console script and `python -m ops`: Ctrl-C while boto3 and the commands are still
importing (a second or two on a cold start) ends quietly, as it does once a command runs."""

import importlib
import sys


def run() -> int:
    try:
        cli = importlib.import_module("ops.cli")
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
    return cli.main()
