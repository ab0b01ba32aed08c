"""Offline harness: run a Pulumi program under the SDK's mocks and record what it registers.

Used by this repository's tests and `make plan`, and usable by anyone testing their own
program built from these components:

    from components.testing import run_program
    run = run_program(lambda: build_my_pipeline(), config={"aws:region": "eu-west-1"})
    assert run.one("aws:codepipeline/pipeline:Pipeline").inputs["pipelineType"] == "V2"

Each recorded resource carries its inputs (camelCase, as the engine receives them) and its
options (parent, protect, ignoreChanges, dependencies). The traps of mocked Pulumi tests are
handled here once: mocks are installed before the program creates anything; the run waits for
every output before it returns; config is replaced, not merged, on every run; duplicate
resource names fail as the real engine fails them.
"""

import asyncio
import hashlib
import json
import runpy
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import pulumi
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import resource as pulumi_resource
from pulumi.runtime import rpc
from pulumi.runtime import settings as pulumi_settings
from pulumi.runtime.proto import source_pb2
from pulumi.runtime.sync_await import _sync_await

from . import limits, naming
from .settings import PROJECT_DIR, stack_config
from .stack_files import read_project

MOCK_ACCOUNT_ID = "111122223333"


class DuplicateResourceError(Exception):
    """Two resources share a URN; `pulumi up` would reject the program."""


class NameLimitError(Exception):
    """A physical name AWS would refuse (too long, or characters it does not allow), as the
    provider would report at `pulumi preview`."""


class DocumentLimitError(Exception):
    """A policy or pattern larger than AWS accepts for it."""


class UnclassifiedTypeError(Exception):
    """A resource type with no entry in `naming.RULES` or `naming.UNNAMED_TYPES`: its name limits
    are unknown, so the harness cannot vouch for it. Add it to the table with its AWS source."""


@dataclass(frozen=True)
class RecordedResource:
    type: str
    name: str
    urn: str
    inputs: Mapping[str, Any]
    parent: str
    protect: bool
    ignore_changes: tuple[str, ...]
    dependencies: tuple[str, ...]
    custom: bool
    provider: str = ""
    """The explicit provider reference (`<provider urn>::<id>`), empty for the default provider."""

    @property
    def parent_name(self) -> str:
        return self.parent.rsplit("::", 1)[-1] if self.parent else ""

    @property
    def region(self) -> str:
        """The region the resource's ARN names (an explicit provider's, or the stack's)."""
        arn = str(self.inputs.get("arn", ""))
        return arn.split(":")[3] if arn.startswith("arn:") else ""

    def json_input(self, key: str) -> Any:
        """An input that holds a JSON document (a policy), parsed."""
        return json.loads(self.inputs[key])


@dataclass
class StackRun:
    """What one evaluation of a program registered, in registration order."""

    stack: str
    resources: list[RecordedResource] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    invokes: list[str] = field(default_factory=list)

    def of_type(self, type_: str) -> list[RecordedResource]:
        return [r for r in self.resources if r.type == type_]

    def one(self, type_: str, name: Optional[str] = None) -> RecordedResource:
        found = [r for r in self.of_type(type_) if name is None or r.name == name]
        if len(found) != 1:
            names = [r.name for r in self.of_type(type_)]
            raise AssertionError(f"expected one {type_}{f' named {name}' if name else ''}, found {names}")
        return found[0]

    def named(self, name: str) -> RecordedResource:
        found = [r for r in self.resources if r.name == name]
        if len(found) != 1:
            raise AssertionError(f"expected one resource named {name}, found {len(found)}")
        return found[0]

    def custom_resources(self) -> Iterator[RecordedResource]:
        return (r for r in self.resources if r.custom)


class _RecordingMocks(pulumi.runtime.Mocks):
    """Answers the engine's questions with plausible AWS values, derived from the inputs."""

    def __init__(self, region: str, invoke_results: Mapping[str, Callable[[dict], dict]], run: StackRun):
        self.region = region
        self.invoke_results = invoke_results
        self.run = run
        self.provider_regions: dict[str, str] = {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[Optional[str], dict]:
        inputs = dict(args.inputs)
        physical = physical_name(args.typ, args.name, inputs)
        for (type_, key), _ in limits.DOCUMENT_LIMITS.items():
            if type_ == args.typ and isinstance(inputs.get(key), str):
                problem = limits.document_problem(type_, key, inputs[key])
                if problem:
                    raise DocumentLimitError(f"{args.typ} {args.name}: {key} is {problem}")
        resource_id = f"{physical}-id"
        if args.typ == "pulumi:providers:aws":
            self.provider_regions[resource_id] = inputs.get("region", self.region)
        region = self.provider_regions.get((args.provider or "").rsplit("::", 1)[-1], self.region)
        # What AWS computes, never overriding what the program set (an EventTarget's `arn` input).
        # A remote component (awsx) has outputs of its own shape: its inputs are not echoed back.
        computed = _computed_state(args.typ, physical, inputs, region)
        state = computed if args.typ.startswith("awsx:") else {**computed, **inputs}
        return resource_id, state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list[tuple[str, str]]]:
        self.run.invokes.append(args.token)
        answer = self.invoke_results.get(args.token)
        if answer is None:
            raise NotImplementedError(f"the offline harness has no answer for invoke {args.token}")
        return answer(dict(args.args)), []


class _RecordingMonitor(pulumi_mocks.MockMonitor):
    """The SDK's mock monitor, also keeping each registration's options."""

    def __init__(self, mocks: _RecordingMocks, run: StackRun):
        super().__init__(mocks)
        self.run = run
        self.seen_urns: set[str] = set()

    def RegisterResource(self, request):  # noqa: N802 - the gRPC method name
        urn = self.make_urn(request.parent, request.type, request.name)
        if request.type != "pulumi:pulumi:Stack":
            if urn in self.seen_urns:
                raise DuplicateResourceError(f"duplicate resource URN {urn}: names must be unique per type and parent")
            self.seen_urns.add(urn)
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            self.run.resources.append(
                RecordedResource(
                    type=request.type,
                    name=request.name,
                    urn=urn,
                    inputs=self._recorded_inputs(request, urn),
                    parent=request.parent,
                    protect=bool(request.protect),
                    ignore_changes=tuple(request.ignoreChanges),
                    dependencies=tuple(request.dependencies),
                    custom=bool(request.custom),
                    provider=request.provider,
                )
            )
        return response

    def _recorded_inputs(self, request, urn: str) -> Mapping[str, Any]:
        """A resource's inputs and computed state; a remote component's (awsx) arguments as given.
        A local component's inputs never reach the engine, so there are none to record."""
        if request.custom:
            return self.resources[urn].state
        if request.remote:
            return rpc.deserialize_properties(request.object)
        return {}


def _skip_source_positions() -> None:
    """Offline, no engine reads where in the source a resource was registered: the SDK's capture
    of a stack trace per registration (`traceback.extract_stack`, a tenth of an evaluation's CPU)
    is skipped. Nothing registered depends on it; `pulumi up` keeps it (it never calls this)."""
    empty = source_pb2.StackTrace()
    pulumi_resource._get_stack_trace = lambda: empty  # type: ignore[attr-defined]
    pulumi_resource._get_source_position = lambda _trace: None  # type: ignore[attr-defined]


def run_program(
    program: Callable[[], Any],
    config: Optional[Mapping[str, Any]] = None,
    *,
    stack: str = "test",
    project: str = "ecs-cicd",
    preview: bool = False,
    invoke_results: Optional[Mapping[str, Callable[[dict], dict]]] = None,
) -> StackRun:
    """Evaluate `program` under mocks with exactly `config` and return what it registered.

    Exceptions from the program propagate unchanged (after the run is torn down)."""
    config = dict(config or {})
    run = StackRun(stack=stack)
    region = str(config.get("aws:region", "us-east-1"))
    results = {**default_invoke_results(region), **(invoke_results or {})}
    secret_keys = [k for k, v in config.items() if isinstance(v, dict) and set(v) == {"secure"}]
    pulumi.runtime.set_all_config({k: _config_string(v) for k, v in config.items()}, secret_keys)
    pulumi_settings.ROOT.set(None)
    mocks = _RecordingMocks(region, results, run)
    _skip_source_positions()
    pulumi.runtime.set_mocks(
        mocks, project=project, stack=stack, preview=preview, monitor=_RecordingMonitor(mocks, run)
    )
    # Pulumi's runtime settings carry both; its type does not declare them.
    pulumi_settings.SETTINGS.rpc_manager.clear()  # pyright: ignore[reportAttributeAccessIssue]
    pulumi_settings.SETTINGS.outputs.clear()  # pyright: ignore[reportAttributeAccessIssue]
    _watch_unretrieved_exceptions()
    before = len(UNRETRIEVED)
    try:
        _sync_await(pulumi.runtime.stack.run_pulumi_func(program))
        root = pulumi_settings.get_root_resource()
        exported = getattr(root, "outputs", {}) if root is not None else {}
        run.outputs = {k: _sync_await(pulumi.Output.from_input(v).future()) for k, v in exported.items()}
    except BaseException as error:
        # The same failure reaches every output that depended on it: asyncio would print each one
        # as "Future exception was never retrieved" whenever it is collected. It has been seen.
        _ESCAPED.append(error)
        raise
    finally:
        pulumi.runtime.set_all_config({}, [])
        pulumi_settings.SETTINGS.rpc_manager.clear()  # pyright: ignore[reportAttributeAccessIssue]
        pulumi_settings.SETTINGS.outputs.clear()  # pyright: ignore[reportAttributeAccessIssue]
    hidden = UNRETRIEVED[before:]
    if hidden:
        del UNRETRIEVED[before:]
        # A run that succeeded left an exception no one looked at: an apply that failed quietly.
        raise UnretrievedExceptionError(
            f"{len(hidden)} exception(s) raised inside outputs were never retrieved, the first: "
            f"{type(hidden[0]).__name__}: {hidden[0]}"
        )
    return run


class UnretrievedExceptionError(AssertionError):
    """An exception raised inside an output that nothing awaited: the run hid a failure."""


# Exceptions that escaped a run (the program failed, as a test may expect): their echoes are not news.
_ESCAPED: list[BaseException] = []
# Exceptions raised inside outputs that nothing retrieved and that no run reported: a hidden failure.
UNRETRIEVED: list[BaseException] = []
_WATCHED_LOOPS: set[int] = set()


def _watch_unretrieved_exceptions() -> None:
    """Route asyncio's "Future exception was never retrieved" (printed whenever a failed output is
    collected, often long after its run) here instead of stderr: an echo of a failure a run already
    raised is dropped; anything else is kept in UNRETRIEVED, which makes the run (or the test, see
    tests/conftest.py) fail."""
    loop = asyncio.get_event_loop()
    if id(loop) in _WATCHED_LOOPS:
        return
    _WATCHED_LOOPS.add(id(loop))
    previous = loop.get_exception_handler()

    def handler(event_loop: asyncio.AbstractEventLoop, context: dict) -> None:
        exception = context.get("exception")
        if exception is not None and "never retrieved" in context.get("message", ""):
            if not any(exception is seen or _caused_by(exception, seen) for seen in _ESCAPED):
                UNRETRIEVED.append(exception)
        elif previous is not None:
            previous(event_loop, context)
        else:
            event_loop.default_exception_handler(context)

    loop.set_exception_handler(handler)


def _caused_by(exception: BaseException, seen: BaseException) -> bool:
    """Whether `exception` is `seen` wrapped (Pulumi wraps an apply's error as it travels)."""
    text = str(seen)
    return bool(text) and text in str(exception)


def run_stack(
    stack: str,
    overrides: Optional[Mapping[str, Any]] = None,
    *,
    project_dir: Path = PROJECT_DIR,
    preview: bool = False,
    invoke_results: Optional[Mapping[str, Callable[[dict], dict]]] = None,
) -> StackRun:
    """Evaluate this project's `__main__.py` for `stack`, as `pulumi up` would, offline.

    `overrides` replaces whole keys of the stack's config (or removes them when None);
    `invoke_results` replaces the answers of data sources (see `default_invoke_results`)."""
    config = stack_config(stack, project_dir)
    for key, value in (overrides or {}).items():
        if value is None:
            config.pop(key, None)
        else:
            config[key] = value
    # Pulumi.yaml's `main` may point the project at a program elsewhere (examples/monorepo does).
    project = read_project(project_dir)
    # `main` is the program's folder (its __main__.py), or the program's file itself.
    main = (project_dir / project.main).resolve()
    program, program_dir = (main, main.parent) if main.is_file() else (main / "__main__.py", main)
    sys.path.insert(0, str(program_dir))
    try:
        return run_program(
            lambda: runpy.run_path(str(program), run_name="__main__"),
            config,
            stack=stack,
            project=project.name,
            preview=preview,
            invoke_results=invoke_results,
        )
    finally:
        sys.path.remove(str(program_dir))


def default_invoke_results(region: str, account_id: str = MOCK_ACCOUNT_ID) -> dict[str, Callable[[dict], dict]]:
    """Answers for the data sources the components read; extend or replace per test."""

    def task_definition(args: dict) -> dict:
        family = args["taskDefinition"].rsplit("/", 1)[-1].split(":")[0]
        return {
            "family": family,
            "arn": args["taskDefinition"],
            "executionRoleArn": f"arn:aws:iam::{account_id}:role/{family}-execution",
            "taskRoleArn": f"arn:aws:iam::{account_id}:role/{family}-task",
        }

    return {
        "aws:index/getCallerIdentity:getCallerIdentity": lambda _: {
            "accountId": account_id,
            "arn": f"arn:aws:sts::{account_id}:assumed-role/ci-deployer/offline-session",
            "userId": "AIDAOFFLINE",
            "id": account_id,
        },
        "aws:index/getRegion:getRegion": lambda _: {"name": region, "region": region, "id": region},
        "aws:index/getPartition:getPartition": lambda _: {
            "partition": "aws",
            "dnsSuffix": "amazonaws.com",
            "id": "aws",
        },
        # No created service exists yet (a first `pulumi up`); tests that need one answer otherwise.
        "aws:resourcegroupstaggingapi/getResources:getResources": lambda args: {
            "id": "offline",
            "resourceTagMappingLists": [],
        },
        "aws:iam/getRole:getRole": lambda args: {
            "name": args["name"],
            "arn": f"arn:aws:iam::{account_id}:role/{args['name']}",
            "id": args["name"],
        },
        "aws:ecs/getCluster:getCluster": lambda args: {
            "clusterName": args["clusterName"],
            "arn": f"arn:aws:ecs:{region}:{account_id}:cluster/{args['clusterName']}",
            "status": "ACTIVE",
        },
        "aws:ecr/getRepository:getRepository": lambda args: {
            "name": args["name"],
            "arn": f"arn:aws:ecr:{region}:{account_id}:repository/{args['name']}",
            "repositoryUrl": f"{account_id}.dkr.ecr.{region}.amazonaws.com/{args['name']}",
            "registryId": account_id,
            "imageTagMutability": "IMMUTABLE",
            "imageScanningConfigurations": [{"scanOnPush": True}],
        },
        "aws:ecs/getService:getService": lambda args: {
            "arn": f"arn:aws:ecs:{region}:{account_id}:service/{args['clusterArn'].rsplit('/', 1)[-1]}/"
            f"{args['serviceName']}",
            "serviceName": args["serviceName"],
            "clusterArn": args["clusterArn"],
            "taskDefinition": f"arn:aws:ecs:{region}:{account_id}:task-definition/{args['serviceName']}:7",
            "desiredCount": 2,
            "launchType": "FARGATE",
        },
        "aws:ecs/getTaskDefinition:getTaskDefinition": task_definition,
    }


def physical_name(type_: str, logical_name: str, inputs: Mapping[str, Any]) -> str:
    """The name AWS would see for a resource, checked against `naming.RULES` as the provider
    checks it at preview: the name the program set, or the one pulumi-aws derives (autonaming)."""
    rule = naming.RULES.get(type_)
    if rule is None:
        if type_.startswith("aws:") and type_ not in naming.UNNAMED_TYPES:
            raise UnclassifiedTypeError(f"{type_} ({logical_name}) has no naming rule; add it to components/naming.py")
        return inputs.get("name") or f"{logical_name}-{_short_hash(logical_name)}"
    given = inputs.get(rule.name_input)
    if given is None and rule.autonamed:
        given = naming.autoname(type_, logical_name, _short_hash(logical_name))
    if given is None:
        raise NameLimitError(f"{type_} {logical_name}: {rule.name_input} is required (not autonamed)")
    problem = rule.check(str(given))
    if problem:
        raise NameLimitError(f"{type_} {logical_name}: {rule.name_input} {given!r} is {problem}; see {rule.source}")
    return str(given)


def _config_string(value: Any) -> str:
    """Config as the CLI hands it to a program: strings, with structured values as JSON."""
    if isinstance(value, dict) and set(value) == {"secure"}:
        return "[secret]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:7]


def _computed_state(type_: str, physical: str, state: Mapping[str, Any], region: str) -> dict[str, Any]:
    """The outputs AWS would compute for the resource types these components create."""
    account = MOCK_ACCOUNT_ID
    service = type_.split(":")[1].split("/")[0] if type_.startswith("aws:") else ""
    arn = f"arn:aws:{service}:{region}:{account}:{physical}"
    computed: dict[str, Any] = {"arn": arn}
    match type_:
        case "aws:s3/bucket:Bucket":
            computed.update(bucket=physical, arn=f"arn:aws:s3:::{physical}")
        case "aws:kms/key:Key":
            key_id = _uuid_like(physical)
            computed.update(keyId=key_id, arn=f"arn:aws:kms:{region}:{account}:key/{key_id}")
        case "aws:iam/role:Role":  # a role's ARN carries its path
            computed.update(name=physical, arn=f"arn:aws:iam::{account}:role{state.get('path') or '/'}{physical}")
        case "aws:ecr/repository:Repository":
            computed.update(
                arn=f"arn:aws:ecr:{region}:{account}:repository/{physical}",
                repositoryUrl=f"{account}.dkr.ecr.{region}.amazonaws.com/{physical}",
                registryId=account,
            )
        case "aws:cloudwatch/logGroup:LogGroup":
            computed.update(arn=f"arn:aws:logs:{region}:{account}:log-group:{physical}")
        case "aws:codebuild/project:Project":
            computed.update(arn=f"arn:aws:codebuild:{region}:{account}:project/{physical}")
        case "aws:codepipeline/pipeline:Pipeline":
            computed.update(arn=f"arn:aws:codepipeline:{region}:{account}:{physical}")
        case "aws:codeconnections/connection:Connection" | "aws:codestarconnections/connection:Connection":
            computed.update(
                arn=f"arn:aws:{service}:{region}:{account}:connection/{_uuid_like(physical)}",
                connectionStatus="PENDING",
            )
        case "awsx:ec2:Vpc":
            computed.update(
                vpcId=f"vpc-{_short_hash(physical)}",
                publicSubnetIds=[f"subnet-pub{i}-{_short_hash(physical)}" for i in range(2)],
                privateSubnetIds=[f"subnet-prv{i}-{_short_hash(physical)}" for i in range(2)],
            )
        case "aws:lb/loadBalancer:LoadBalancer":
            computed.update(
                arn=f"arn:aws:elasticloadbalancing:{region}:{account}:loadbalancer/app/{physical}/0123456789abcdef",
                arnSuffix=f"app/{physical}/0123456789abcdef",
                dnsName=f"{physical}-123456789.{region}.elb.amazonaws.com",
                zoneId="Z32O12XQLNTSW2",  # the ALB canonical hosted zone of eu-west-1
            )
        case "aws:lb/targetGroup:TargetGroup":
            computed.update(
                name=physical,
                arn=f"arn:aws:elasticloadbalancing:{region}:{account}:targetgroup/{physical}/0123456789abcdef",
                arnSuffix=f"targetgroup/{physical}/0123456789abcdef",
            )
        case "aws:lb/listener:Listener":
            computed.update(
                arn=f"arn:aws:elasticloadbalancing:{region}:{account}:listener/app/lb/0123456789abcdef/{_short_hash(physical)}"
            )
        case "aws:lb/listenerRule:ListenerRule" if state.get("listenerArn"):
            # AWS's form: the listener's ARN, as listener-rule, and the rule's own id.
            listener = state["listenerArn"].replace(":listener/", ":listener-rule/")
            computed.update(arn=f"{listener}/{_short_hash(physical)}")
        case "aws:ecs/cluster:Cluster":
            computed.update(arn=f"arn:aws:ecs:{region}:{account}:cluster/{physical}")
        case "aws:ecs/service:Service":
            computed.update(arn=f"arn:aws:ecs:{region}:{account}:service/{physical}")
        case "aws:ecs/taskDefinition:TaskDefinition":
            computed.update(arn=f"arn:aws:ecs:{region}:{account}:task-definition/{state.get('family')}:1", revision=1)
        case "aws:cloudwatch/metricAlarm:MetricAlarm":
            computed.update(name=physical, arn=f"arn:aws:cloudwatch:{region}:{account}:alarm:{physical}")
        case "aws:codedeploy/application:Application":
            computed.update(name=physical, arn=f"arn:aws:codedeploy:{region}:{account}:application:{physical}")
        case "aws:cloudwatch/eventRule:EventRule":
            computed.update(name=physical, arn=f"arn:aws:events:{region}:{account}:rule/{physical}")
        case "aws:sns/topic:Topic":
            computed.update(name=physical, arn=f"arn:aws:sns:{region}:{account}:{physical}")
    return computed


def _uuid_like(text: str) -> str:
    h = hashlib.sha256(text.encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"
