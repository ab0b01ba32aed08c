"""Buildspecs embedded in CodeBuild projects (CICD-SEC-4).

They live in this repository's `buildspecs/` folder (in a wheel: `components/buildspecs/`) and
are read once per process: the application repository never supplies build commands.
"""

from functools import cache
from pathlib import Path

import yaml

_HERE = Path(__file__).resolve().parent
_SEARCH_PATH = (_HERE.parent / "buildspecs", _HERE / "buildspecs")


@cache
def load(name: str) -> str:
    """The text of `buildspecs/<name>.yml`, checked to be a version 0.2 buildspec."""
    for folder in _SEARCH_PATH:
        path = folder / f"{name}.yml"
        if path.is_file():
            text = path.read_text()
            parsed = yaml.safe_load(text)
            if not isinstance(parsed, dict) or parsed.get("version") != 0.2:
                raise ValueError(f"{path} is not a version 0.2 buildspec")
            return text
    raise FileNotFoundError(f"no buildspec {name}.yml in {', '.join(str(p) for p in _SEARCH_PATH)}")
