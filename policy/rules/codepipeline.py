"""CodePipeline: V2 pipelines with encrypted artifacts, where what is deployed was built, a person
approves production, and pull requests and tags start nothing that deploys unapproved.

"Deploys" means any action that can change what runs: a Deploy action, but also an Invoke
(a Lambda function can call any API its role allows), a Commands action (shell commands with the
pipeline's role) or an action of a provider this pack does not know. Only Source actions, Manual
approvals and CodeBuild builds and tests are taken not to deploy; a CodeBuild project whose role
could deploy is kept from it by the guardrail SCP, which lets only the deploy roles change a service.
"""

import re
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple, Optional

from .normalise import UNKNOWN, account_of, as_list, aws_managed_key, dig, is_blank, is_unknown

PIPELINE = "aws:codepipeline/pipeline:Pipeline"

# CodePipeline ---------------------------------------------------------------------------------


class Stage(NamedTuple):
    """Where an action runs: the stage's position and name."""

    index: int
    name: str


def pipeline_actions(props: Mapping[str, Any]) -> Optional[list[tuple[Stage, Mapping[str, Any]]]]:
    """(stage, action) pairs in pipeline order, or None when the stages are unknown."""
    stages = dig(props, "stages")
    if stages is UNKNOWN:
        return None
    pairs = []
    for index, stage in enumerate(as_list(stages)):
        name = dig(stage, "name")
        actions = dig(stage, "actions")
        if actions is UNKNOWN:
            continue
        for action in as_list(actions):
            if isinstance(action, Mapping):
                pairs.append((Stage(index, name if isinstance(name, str) else f"#{index}"), action))
    return pairs


def action_name(stage: Stage, action: Mapping[str, Any]) -> str:
    name = dig(action, "name")
    return f"{stage.name}/{name if isinstance(name, str) else '?'}"


def _run_order(action: Mapping[str, Any]) -> Any:
    order = dig(action, "runOrder")
    return 1 if order is None else order


def runs_before(earlier: tuple[Stage, Mapping[str, Any]], later: tuple[Stage, Mapping[str, Any]]) -> bool:
    """Whether `earlier` has finished when `later` starts (earlier stage, or same stage and lower runOrder)."""
    if earlier[0].index != later[0].index:
        return earlier[0].index < later[0].index
    first, second = _run_order(earlier[1]), _run_order(later[1])
    numbers = all(isinstance(n, (int, float)) and not isinstance(n, bool) for n in (first, second))
    return numbers and first < second


def check_pipeline_v2_encrypted(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    if resource_type != PIPELINE:
        return []
    problems = []
    pipeline_type = dig(props, "pipelineType")
    if pipeline_type is not UNKNOWN and pipeline_type != "V2":
        shown = pipeline_type if isinstance(pipeline_type, str) and pipeline_type else "V1 (the default)"
        problems.append(f"pipelineType is {shown}, not V2")
    stores = dig(props, "artifactStores")
    if stores is UNKNOWN:
        return problems
    if not as_list(stores):
        problems.append("pipeline has no artifactStores")
    for index, store in enumerate(as_list(stores)):
        location = dig(store, "location")
        label = repr(location) if isinstance(location, str) else f"#{index}"
        kind = dig(store, "encryptionKey", "type")
        key = dig(store, "encryptionKey", "id")
        if kind is not UNKNOWN and kind != "KMS":
            problems.append(f"artifact store {label} is not encrypted with a customer KMS key (encryptionKey.type KMS)")
        elif kind == "KMS" and key is not UNKNOWN and is_blank(key):
            problems.append(f"artifact store {label} has encryptionKey.type KMS but no key id")
        elif aws_managed_key(key):
            problems.append(f"artifact store {label} uses the AWS-managed key {key!r}; name a customer KMS key")
    return problems


# Words that make an environment name production, as a whole name or a `-`/`_` part of it
# (components/settings.py PRODUCTION_WORDS; a test keeps the two in step).
PRODUCTION_WORDS = frozenset({"prod", "prd", "production", "live"})
PRODUCTION_TAG = "ecs-cicd:production"


def is_production_pipeline(props: Mapping[str, Any]) -> bool:
    """A pipeline is production when its stack says so (the `ecs-cicd:production` tag) or when its
    environment tag names production in any spelling (`prd`, `live`, `prod-eu`): a plain string
    compare with "prod" is what an attacker names around, and a tag any resource can carry cannot
    make a production environment something else."""
    tags: dict[str, Any] = {}
    for source in ("tagsAll", "tags"):  # tagsAll: with the provider's default tags
        found = dig(props, source)
        if isinstance(found, Mapping):
            tags.update({str(k).lower(): v for k, v in found.items()})
    declared = tags.get(PRODUCTION_TAG)
    if isinstance(declared, str) and declared.lower() != "false":
        return True  # anything but an explicit "false" is production
    environment = tags.get("environment")
    return isinstance(environment, str) and bool(set(re.split(r"[-_]", environment.lower())) & PRODUCTION_WORDS)


# (category, provider) pairs that cannot change what runs; every other action may deploy.
NON_DEPLOYING = frozenset({("Approval", "Manual"), ("Build", "CodeBuild"), ("Test", "CodeBuild")})


def may_deploy(action: Mapping[str, Any]) -> bool:
    category, provider = dig(action, "category"), dig(action, "provider")
    if category == "Source" or is_unknown(category) or is_unknown(provider):
        return False  # unknown during a preview: cannot tell
    return (category, provider) not in NON_DEPLOYING


def _approved_before(actions: list, deploy: tuple, skipping: frozenset = frozenset()) -> bool:
    """An approval counts only in a stage that cannot be skipped (`skipping`: stage indexes whose
    conditions may skip them)."""
    return any(
        runs_before(a, deploy) and a[0].index not in skipping for a in actions if dig(a[1], "category") == "Approval"
    )


def skippable_stages(props: Mapping[str, Any]) -> frozenset:
    """Stages a V2 condition may skip (`beforeEntry`, `onSuccess` or `onFailure` with result SKIP,
    https://docs.aws.amazon.com/codepipeline/latest/userguide/stage-conditions.html): an approval
    in one of them may never be asked for. Unknown conditions count as skippable."""
    found = set()
    for index, stage in enumerate(as_list(dig(props, "stages"))):
        for hook in ("beforeEntry", "onSuccess", "onFailure"):
            conditions = dig(stage, hook, "conditions")
            if conditions is UNKNOWN or any(
                is_unknown(dig(c, "result")) or str(dig(c, "result")).upper() == "SKIP" for c in as_list(conditions)
            ):
                found.add(index)
    return frozenset(found)


def check_prod_pipeline_approval(
    resource_type: str, props: Mapping[str, Any], non_production_accounts: Iterable[str] = ()
) -> list[str]:
    """A production pipeline asks a person before anything that may deploy; a promotion pipeline
    may first deploy into accounts the pack's configuration names non-production
    (`nonProductionAccounts`): an ECS deploy action (provider ECS or CodeDeployToECS) that runs as a
    role of such an account deploys a service of that account and nothing else. Any other action
    with such a role (a Lambda, commands, a stack set) could reach further, and is not exempt."""
    if resource_type != PIPELINE or not is_production_pipeline(props):
        return []
    elsewhere = {str(account) for account in non_production_accounts}
    actions = pipeline_actions(props)
    if actions is None:
        return []
    skipping = skippable_stages(props)
    return [
        f"prod pipeline may deploy in stage {pair[0].name!r} ({action_name(*pair)}, a {dig(pair[1], 'category')} "
        "action) without a manual Approval action before it (in a stage no condition can skip)"
        for pair in actions
        if may_deploy(pair[1])
        and dig(pair[1], "category") != "Approval"
        and not (elsewhere and _deploys_into(pair[1], elsewhere))
        and not _approved_before(actions, pair, skipping)
    ]


def _deploys_into(action: Mapping[str, Any], accounts: set) -> bool:
    """An ECS deploy action that runs as a role of one of `accounts`."""
    return (
        dig(action, "category") == "Deploy"
        and dig(action, "provider") in ECS_DEPLOY_PROVIDERS
        and dig(action, "owner") == "AWS"
        and account_of(dig(action, "roleArn")) in accounts
    )


# The deploy actions that change an ECS service and nothing else
# (https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-ECS.html,
# https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-ECSbluegreen.html).
ECS_DEPLOY_PROVIDERS = ("ECS", "CodeDeployToECS")


def check_pipeline_triggers(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """Pull requests (unmerged code) never start a pipeline that may deploy, and tags (which anyone
    who may push one can point at any commit) start only a pipeline with an approval before
    everything that may deploy (CICD-SEC-1)."""
    if resource_type != PIPELINE:
        return []
    triggers = dig(props, "triggers")
    actions = pipeline_actions(props)
    if triggers is UNKNOWN or actions is None:
        return []
    deploys = [pair for pair in actions if may_deploy(pair[1]) and dig(pair[1], "category") != "Approval"]
    problems = []
    for trigger in as_list(triggers):
        git = dig(trigger, "gitConfiguration")
        if not isinstance(git, Mapping):
            continue
        if as_list(git.get("pullRequests")) and deploys:
            problems.append(
                f"pull requests start a pipeline that may deploy ({action_name(*deploys[0])}): run them in a "
                "pipeline that only builds and tests"
            )
        tagged = any(isinstance(push, Mapping) and push.get("tags") for push in as_list(git.get("pushes")))
        unapproved = [d for d in deploys if not _approved_before(actions, d, skippable_stages(props))]
        if tagged and unapproved:
            problems.append(
                f"tag pushes start a pipeline that may deploy ({action_name(*unapproved[0])}) without an approval "
                "before it: anyone who may push a tag could deploy any commit"
            )
    return problems


def check_deploy_needs_build_artifact(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """Every input artifact comes from an earlier action; a Deploy consumes built artifacts, not raw source."""
    if resource_type != PIPELINE:
        return []
    actions = pipeline_actions(props)
    if actions is None:
        return []
    producers: dict[str, list[tuple[Stage, Mapping[str, Any]]]] = {}
    for pair in actions:
        outputs = dig(pair[1], "outputArtifacts")
        for artifact in [] if outputs is UNKNOWN else as_list(outputs):
            if isinstance(artifact, str) and not is_unknown(artifact):
                producers.setdefault(artifact, []).append(pair)
    problems = []
    for pair in actions:
        inputs = dig(pair[1], "inputArtifacts")
        if inputs is UNKNOWN:
            continue
        name = action_name(*pair)
        is_deploy = may_deploy(pair[1]) and dig(pair[1], "category") != "Approval"
        if is_deploy and not as_list(inputs):
            problems.append(f"Deploy action {name} takes no input artifact: it must deploy what the build produced")
        for artifact in as_list(inputs):
            if not isinstance(artifact, str) or is_unknown(artifact):
                continue
            earlier = [producer for producer in producers.get(artifact, []) if runs_before(producer, pair)]
            if not earlier:
                problems.append(f"action {name} consumes artifact {artifact!r}, which no earlier action produces")
            elif is_deploy and any(dig(producer[1], "category") == "Source" for producer in earlier):
                problems.append(
                    f"Deploy action {name} deploys artifact {artifact!r} straight from the Source stage, "
                    "bypassing the build"
                )
    return problems
