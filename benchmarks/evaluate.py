"""How fast the program evaluates as a stack grows: 1, 10 and 50 services, offline.

    make bench            # or: python -m benchmarks.evaluate [--services 1 10 50] [--repeat 3]

Each measurement runs in a fresh interpreter, so peak memory is that evaluation's alone and no
cache from an earlier run helps it. Wall time includes importing Pulumi and the AWS provider SDK
and the modules the program uses (paid once per `pulumi up`); "evaluate" is the program alone, which
is what grows per service.
Beside each size, the floor: the bare SDK registering exactly the resources the program registered
(same types, same inputs, as plain values: no components, outputs or dependencies) under the same
mocks (`replay`), and the program's cost per resource as a multiple of it.
"""

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
MONOREPO = ROOT / "examples" / "monorepo"


def services(count: int) -> list[dict]:
    return [
        {"name": f"svc{i:02d}", "source": {"filePaths": {"includes": [f"services/svc{i:02d}/**"]}}}
        for i in range(count)
    ]


def import_what_the_program_imports() -> None:
    """Every module of the components and every AWS SDK module they use (`aws.<module>.`), so that
    "evaluate" is the program's own work: `pulumi up` imports them as it starts, like Pulumi."""
    import importlib
    import importlib.util
    import pkgutil
    import re

    import components

    for module in pkgutil.iter_modules(components.__path__):
        importlib.import_module(f"components.{module.name}")
    used = set()
    for source in (ROOT / "components").glob("*.py"):
        used |= set(re.findall(r"\baws\.([a-z_0-9]+)\.", source.read_text()))
    for name in sorted(used):
        if importlib.util.find_spec(f"pulumi_aws.{name}") is not None:  # not `aws.amazonaws.com`
            importlib.import_module(f"pulumi_aws.{name}")
    importlib.import_module("pulumi_awsx.ec2")


def measure(count: int) -> dict:
    """One evaluation, in this process: call only in a fresh interpreter."""
    started = time.perf_counter()
    from components.testing import run_stack

    import_what_the_program_imports()
    imported = time.perf_counter()
    run = run_stack("shop-dev", {"ecs-cicd:services": services(count)}, project_dir=MONOREPO)
    finished = time.perf_counter()
    custom = sum(1 for _ in run.custom_resources())
    return {
        "services": count,
        "import_s": imported - started,
        "evaluate_s": finished - imported,
        "resources": custom,
        "invokes": len(run.invokes),
        "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def record(count: int) -> list:
    """What the program registers at this size: each custom resource's type, name and inputs."""
    from components.testing import run_stack

    run = run_stack("shop-dev", {"ecs-cicd:services": services(count)}, project_dir=MONOREPO)
    return [[r.type, r.name, r.inputs] for r in run.custom_resources() if not r.type.startswith("pulumi:providers:")]


def replay(recorded_file: str) -> dict:
    """The floor for exactly the program's resources: the bare SDK registering the same types with
    the same inputs, as plain values (no components, no outputs, no dependencies), under the same
    mocks and harness. Call only in a fresh interpreter."""
    started = time.perf_counter()
    import pulumi

    from components.testing import run_program

    recorded = json.loads(Path(recorded_file).read_text())
    imported = time.perf_counter()

    def program() -> None:
        for type_, name, inputs in recorded:
            pulumi.CustomResource(type_, name, inputs)

    run = run_program(program, {"aws:region": "eu-west-1"})
    finished = time.perf_counter()
    return {
        "services": 0,
        "import_s": imported - started,
        "evaluate_s": finished - imported,
        "resources": sum(1 for _ in run.custom_resources()),
        "invokes": 0,
        "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def replay_in_fresh_interpreter(count: int) -> dict:
    import tempfile

    recorded = (
        subprocess.run(  # noqa: S603 - our own module, with our own arguments
            [sys.executable, "-m", "benchmarks.evaluate", "--record-child", str(count)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as file:
        file.write(recorded)
    try:
        return in_fresh_interpreter(file.name, "--replay-child")
    finally:
        Path(file.name).unlink()


def in_fresh_interpreter(count: int | str, mode: str = "--child") -> dict:
    result = subprocess.run(  # noqa: S603 - our own module, with our own arguments
        [sys.executable, "-m", "benchmarks.evaluate", mode, str(count)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--services", type=int, nargs="+", default=[1, 10, 50])
    parser.add_argument("--repeat", type=int, default=3, help="runs per size; the fastest is shown")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--record-child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--replay-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(measure(args.child)))
        return 0
    if args.record_child is not None:
        print(json.dumps(record(args.record_child), default=str))
        return 0
    if args.replay_child is not None:
        print(json.dumps(replay(args.replay_child)))
        return 0

    table = Table(title=f"Offline evaluation of the program (fastest of {args.repeat} runs)")
    columns = (
        "services",
        "resources",
        "invokes",
        "evaluate s",
        "ms / resource",
        "ms / service",
        "resources / added service",
        "import s",
        "peak MiB",
        "floor ms / resource",
        "program / floor",
    )
    for column in columns:
        table.add_column(column, justify="right")
    smallest = None
    for count in args.services:
        best = min((in_fresh_interpreter(count) for _ in range(args.repeat)), key=lambda r: r["evaluate_s"])
        bare = min((replay_in_fresh_interpreter(count) for _ in range(args.repeat)), key=lambda r: r["evaluate_s"])
        per_resource, floor_per_resource = (1000 * r["evaluate_s"] / r["resources"] for r in (best, bare))
        table.add_row(
            str(best["services"]),
            str(best["resources"]),
            str(best["invokes"]),
            f"{best['evaluate_s']:.2f}",
            f"{1000 * best['evaluate_s'] / best['resources']:.2f}",
            f"{1000 * best['evaluate_s'] / best['services']:.0f}",
            "-"
            if smallest is None
            else f"{(best['resources'] - smallest['resources']) / (best['services'] - smallest['services']):.1f}",
            f"{best['import_s']:.2f}",
            f"{best['peak_mib']:.0f}",
            f"{floor_per_resource:.2f}",
            f"{per_resource / floor_per_resource:.2f}x",
        )
        smallest = smallest or best
    Console(width=None if sys.stdout.isatty() else 200).print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
