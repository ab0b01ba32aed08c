"""Physical names within AWS's limits, derived in one place.

Every AWS resource type the program creates has a name rule here: the longest name AWS accepts,
the characters it allows, whether Pulumi autonames it, and the AWS page that says so. Components
ask this module for names instead of formatting their own, so a long service name, an
underscore or a capital can never reach AWS as a name AWS refuses at `pulumi preview`.

Two kinds of name:
- `physical(rule, *parts)`: a name the program sets itself (`name=`). At most `rule.max_length`.
- `logical(rule, *parts)`: a Pulumi resource name for a type Pulumi autonames. pulumi-aws names
  such a resource `<logical name>-<7 random hex characters>`, and refuses one whose result is
  longer than AWS allows, so the logical name must leave room for those 8 characters.

A name that has to be shortened keeps its first and last parts' meaning and gains a short hash of
the whole (stable across runs: the same inputs always give the same name, and two different long
names never collide).

The offline harness (`components/testing.py`) checks every registered resource against these
rules, as the provider would at preview, so a test over any stack fails on a name AWS would refuse.
"""

import hashlib
import re
from dataclasses import dataclass
from typing import Optional

# pulumi-aws autonaming: `<logical name>` + "-" + 7 random hex characters (pulumi-aws
# provider/autonaming.go: `tfbridge.AutoName(name, 255, "-")`, Randlen 7). When the result would be
# longer than the type's maximum, pulumi-terraform-bridge fails the resource ("name '%s' plus 7
# random chars is longer than maximum length %d", pulumi sdk resource_id.go NewUniqueName): it does
# not truncate. Only S3 buckets are lowercased (resource_overrides.go: AutoNameTransform(..., 63,
# strings.ToLower)); no type has its characters cleaned, so an `_` reaches AWS as it is.
AUTONAME_SUFFIX_LENGTH = 8
HASH_LENGTH = 6


@dataclass(frozen=True)
class NameRule:
    """What AWS accepts as the name of one resource type."""

    type_token: str
    """The Pulumi type token, e.g. `aws:iam/role:Role`."""
    name_input: str
    """The resource input that holds the physical name (`name`, `bucket`, `family`, ...)."""
    max_length: int
    allowed: str
    """A regular expression the whole physical name must match."""
    source: str
    """The AWS documentation page stating the limit."""
    autonamed: bool = False
    """pulumi-aws derives the name from the logical name when the program does not set it."""
    note: str = ""
    """Where the limit used here differs from AWS's own, why."""
    lowercase: bool = False
    """Only lowercase letters are allowed."""
    separator_chars: str = "-"
    """Characters that may separate words; everything else not allowed becomes the first of these."""

    def check(self, name: str) -> Optional[str]:
        """Why AWS would refuse `name`, or None when it fits."""
        if len(name) > self.max_length:
            return f"{len(name)} characters, over the limit of {self.max_length}"
        if not re.fullmatch(self.allowed, name):
            return f"not of the form AWS allows ({self.allowed})"
        return None


_DOCS = "https://docs.aws.amazon.com"
RULES: dict[str, NameRule] = {
    rule.type_token: rule
    for rule in (
        NameRule(
            "aws:s3/bucket:Bucket",
            "bucket",
            63,
            r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]",
            f"{_DOCS}/AmazonS3/latest/userguide/bucketnamingrules.html",
            autonamed=True,
            lowercase=True,
            separator_chars="-.",
        ),
        NameRule(
            "aws:iam/role:Role",
            "name",
            64,
            r"[\w+=,.@-]{1,64}",
            f"{_DOCS}/IAM/latest/APIReference/API_CreateRole.html",
            autonamed=True,
            separator_chars="-_+=,.@",
        ),
        NameRule(
            "aws:iam/rolePolicy:RolePolicy",
            "name",
            128,
            r"[\w+=,.@-]{1,128}",
            f"{_DOCS}/IAM/latest/APIReference/API_PutRolePolicy.html",
            autonamed=True,
            separator_chars="-_+=,.@",
        ),
        NameRule(
            "aws:cloudwatch/logGroup:LogGroup",
            "name",
            512,
            r"[.\-_/#A-Za-z0-9]{1,512}",
            f"{_DOCS}/AmazonCloudWatchLogs/latest/APIReference/API_CreateLogGroup.html",
            autonamed=True,
            separator_chars="-_./#",
        ),
        NameRule(
            "aws:ecr/repository:Repository",
            "name",
            256,
            r"(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*",
            f"{_DOCS}/AmazonECR/latest/APIReference/API_CreateRepository.html",
            lowercase=True,
            separator_chars="-._/",
        ),
        NameRule(
            "aws:codebuild/project:Project",
            "name",
            150,
            r"[A-Za-z0-9][A-Za-z0-9_-]{1,149}",
            f"{_DOCS}/codebuild/latest/APIReference/API_CreateProject.html",
            separator_chars="-_",
        ),
        NameRule(
            "aws:codepipeline/pipeline:Pipeline",
            "name",
            100,
            r"[A-Za-z0-9.@_-]{1,100}",
            f"{_DOCS}/codepipeline/latest/APIReference/API_PipelineDeclaration.html",
            separator_chars="-_.@",
        ),
        NameRule(
            "aws:codeconnections/connection:Connection",
            "name",
            32,
            r"[\S ]{1,32}",
            f"{_DOCS}/codeconnections/latest/APIReference/API_CreateConnection.html",
        ),
        NameRule(
            "aws:cloudwatch/eventRule:EventRule",
            "name",
            64,
            r"[.\-_A-Za-z0-9]{1,64}",
            f"{_DOCS}/eventbridge/latest/APIReference/API_PutRule.html",
            autonamed=True,
            separator_chars="-_.",
        ),
        NameRule(
            "aws:sns/topic:Topic",
            "name",
            80,
            r"[A-Za-z0-9_-]{1,80}",
            f"{_DOCS}/sns/latest/api/API_CreateTopic.html",
            autonamed=True,
            separator_chars="-_",
            note="AWS allows 256; pulumi-aws autonames topics within 80 (resource_overrides.go, Maxlen 80)",
        ),
        NameRule(
            "aws:kms/alias:Alias",
            "name",
            256,
            r"alias/(?!aws/)[A-Za-z0-9:/_-]{1,250}",
            f"{_DOCS}/kms/latest/APIReference/API_CreateAlias.html",
            separator_chars="-_",
        ),
        NameRule(
            "aws:ecs/cluster:Cluster",
            "name",
            255,
            r"[A-Za-z0-9_-]{1,255}",
            f"{_DOCS}/AmazonECS/latest/APIReference/API_CreateCluster.html",
            separator_chars="-_",
        ),
        NameRule(
            "aws:ecs/service:Service",
            "name",
            255,
            r"[A-Za-z0-9_-]{1,255}",
            f"{_DOCS}/AmazonECS/latest/APIReference/API_CreateService.html",
            separator_chars="-_",
        ),
        NameRule(
            "aws:ecs/taskDefinition:TaskDefinition",
            "family",
            255,
            r"[A-Za-z0-9_-]{1,255}",
            f"{_DOCS}/AmazonECS/latest/APIReference/API_RegisterTaskDefinition.html",
            separator_chars="-_",
        ),
        NameRule(
            "aws:lb/loadBalancer:LoadBalancer",
            "name",
            32,
            r"(?!internal-)[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?",
            f"{_DOCS}/elasticloadbalancing/latest/APIReference/API_CreateLoadBalancer.html",
            autonamed=True,
            note="pulumi-aws autonames within 255 without checking: AWS refuses the name at creation",
        ),
        NameRule(
            "aws:lb/targetGroup:TargetGroup",
            "name",
            32,
            r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?",
            f"{_DOCS}/elasticloadbalancing/latest/APIReference/API_CreateTargetGroup.html",
            autonamed=True,
        ),
        NameRule(
            "aws:cloudwatch/metricAlarm:MetricAlarm",
            "name",
            255,
            r"[^\x00-\x1f]{1,255}",
            f"{_DOCS}/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html",
            autonamed=True,
        ),
        NameRule(
            "aws:codedeploy/application:Application",
            "name",
            100,
            r"[A-Za-z0-9._+=,@-]{1,100}",
            f"{_DOCS}/codedeploy/latest/APIReference/API_CreateApplication.html",
            separator_chars="-._+=,@",
        ),
        NameRule(
            "aws:codedeploy/deploymentGroup:DeploymentGroup",
            "deploymentGroupName",
            100,
            r"[A-Za-z0-9._+=,@-]{1,100}",
            f"{_DOCS}/codedeploy/latest/APIReference/API_CreateDeploymentGroup.html",
            separator_chars="-._+=,@",
            note="AWS states only the length; the characters are those of application names (CodeDeploy quotas page)",
        ),
        NameRule(
            "aws:cloudtrail/trail:Trail",
            "name",
            128,
            r"(?!.*[._-]{2})(?!\d+\.\d+\.\d+\.\d+$)[A-Za-z0-9][A-Za-z0-9._-]{1,126}[A-Za-z0-9]",
            f"{_DOCS}/awscloudtrail/latest/APIReference/API_CreateTrail.html",
            separator_chars="-_.",
        ),
        NameRule(
            "aws:appautoscaling/policy:Policy",
            "name",
            256,
            r"[^\x00-\x1f]{1,256}",
            f"{_DOCS}/autoscaling/application/APIReference/API_PutScalingPolicy.html",
            autonamed=True,
        ),
        NameRule(
            "aws:lambda/function:Function",
            "name",
            64,
            r"[A-Za-z0-9_-]{1,64}",
            f"{_DOCS}/lambda/latest/api/API_CreateFunction.html",
            note="FunctionName: a name alone is limited to 64 characters",
            autonamed=True,
            separator_chars="-_",
        ),
        NameRule(
            "aws:ec2/securityGroup:SecurityGroup",
            "name",
            255,
            r"(?!sg-)[A-Za-z0-9 ._\-:/()#,@\[\]+=&;{}!$*]{1,255}",
            f"{_DOCS}/AWSEC2/latest/APIReference/API_CreateSecurityGroup.html",
            autonamed=True,
        ),
        NameRule(
            "aws:ecr/pullThroughCacheRule:PullThroughCacheRule",
            "ecrRepositoryPrefix",
            30,
            r"[a-z0-9]+(?:[._-][a-z0-9]+)*",
            f"{_DOCS}/AmazonECR/latest/APIReference/API_CreatePullThroughCacheRule.html",
            lowercase=True,
        ),
        NameRule(
            "aws:cfg/rule:Rule",
            "name",
            128,
            r"[\S ]{1,128}",
            f"{_DOCS}/config/latest/APIReference/API_ConfigRule.html",
        ),
    )
}

# Types whose resources carry no name AWS limits (an id AWS assigns, or no name at all).
UNNAMED_TYPES = frozenset(
    {
        "aws:kms/key:Key",
        "aws:kms/keyPolicy:KeyPolicy",
        "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
        "aws:s3/bucketVersioning:BucketVersioning",
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
        "aws:s3/bucketPolicy:BucketPolicy",
        "aws:ecr/lifecyclePolicy:LifecyclePolicy",
        "aws:ecr/repositoryPolicy:RepositoryPolicy",
        "aws:sns/topicPolicy:TopicPolicy",
        "aws:sns/topicSubscription:TopicSubscription",
        "aws:cloudwatch/eventTarget:EventTarget",
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
        "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
        "aws:lb/listener:Listener",
        "aws:lb/listenerRule:ListenerRule",
        "aws:appautoscaling/target:Target",
        "aws:guardduty/detector:Detector",
        "aws:route53/record:Record",
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        "pulumi:providers:aws",
    }
)


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:HASH_LENGTH]


def _clean(rule: NameRule, text: str) -> str:
    """`text` in the characters `rule` allows: others become its first separator, runs of
    separators collapse, and the name neither starts nor ends with one."""
    if rule.lowercase:
        text = text.lower()
    separator = rule.separator_chars[0]
    word_chars = "a-z0-9" if rule.lowercase else "A-Za-z0-9"
    kept = re.escape(rule.separator_chars)
    text = re.sub(f"[^{word_chars}{kept}]", separator, text)
    text = re.sub(f"[{kept}]{{2,}}", lambda m: m.group(0)[0], text)
    return text.strip(rule.separator_chars)


def fit(rule: NameRule, parts: tuple[str, ...], max_length: int) -> str:
    """`parts` joined by the rule's first separator, within `max_length` and the allowed
    characters. A name that had to change (cut, or characters replaced) gains a hash of the
    original, so two different inputs can never end up with the same name; the last part (what
    the resource is: `build`, `role`, `blue`) is kept whole when there is room."""
    separator = rule.separator_chars[0]
    original = separator.join(p for p in parts if p)
    whole = _clean(rule, original)
    if whole == original and len(whole) <= max_length:
        return whole
    digest = _hash(original)
    tail = _clean(rule, parts[-1]) if len(parts) > 1 else ""
    head_room = max_length - len(digest) - 1 - (len(tail) + 1 if tail else 0)
    if head_room < 1:  # no room for the tail: cut the whole name, keep the hash
        tail, head_room = "", max_length - len(digest) - 1
    if tail and whole.endswith(tail):
        whole = whole[: -len(tail)].rstrip(rule.separator_chars)
    head = whole[:head_room].rstrip(rule.separator_chars)
    return separator.join(p for p in (head, digest, tail) if p)


def physical(type_token: str, *parts: str) -> str:
    """A name the program sets on a resource of `type_token`, within AWS's limits."""
    rule = RULES[type_token]
    return fit(rule, parts, rule.max_length)


def logical(type_token: str, *parts: str) -> str:
    """A Pulumi resource name for an autonamed type: the name pulumi-aws derives from it (plus its
    random suffix) stays within AWS's limits."""
    rule = RULES[type_token]
    if not rule.autonamed:
        raise ValueError(f"{type_token} is not autonamed; set its name with naming.physical()")
    return fit(rule, parts, rule.max_length - AUTONAME_SUFFIX_LENGTH)


def autoname(type_token: str, logical_name: str, suffix: str) -> str:
    """The physical name pulumi-aws gives an autonamed resource (used by the offline harness)."""
    rule = RULES.get(type_token)
    name = f"{logical_name}-{suffix}"
    return name.lower() if rule is not None and rule.lowercase else name


def problem(type_token: str, physical_name: str) -> Optional[str]:
    """Why AWS would refuse `physical_name` for `type_token`, or None."""
    rule = RULES.get(type_token)
    return rule.check(physical_name) if rule is not None else None


# The rules components use by name.
S3_BUCKET = "aws:s3/bucket:Bucket"
IAM_ROLE = "aws:iam/role:Role"
IAM_ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ECR_REPOSITORY = "aws:ecr/repository:Repository"
CODEBUILD_PROJECT = "aws:codebuild/project:Project"
PIPELINE = "aws:codepipeline/pipeline:Pipeline"
EVENT_RULE = "aws:cloudwatch/eventRule:EventRule"
SNS_TOPIC = "aws:sns/topic:Topic"
KMS_ALIAS = "aws:kms/alias:Alias"
LOAD_BALANCER = "aws:lb/loadBalancer:LoadBalancer"
TARGET_GROUP = "aws:lb/targetGroup:TargetGroup"
CODEDEPLOY_GROUP = "aws:codedeploy/deploymentGroup:DeploymentGroup"
CLOUDTRAIL_TRAIL = "aws:cloudtrail/trail:Trail"
CONFIG_RULE = "aws:cfg/rule:Rule"
PULL_THROUGH_PREFIX = "aws:ecr/pullThroughCacheRule:PullThroughCacheRule"
CONNECTION = "aws:codeconnections/connection:Connection"
LAMBDA_FUNCTION = "aws:lambda/function:Function"


def kms_alias(*parts: str) -> str:
    """`alias/<name>` within KMS's limits."""
    rule = RULES[KMS_ALIAS]
    return "alias/" + fit(rule, parts, rule.max_length - len("alias/"))
