"""IAM and resource policies: grants name their actions and resources, roles trust named principals
only, and no policy anywhere in the stack lets in everyone or an account nobody named.

Every document is read through `normalise`, so `iam:PassRol?`, `kms:G*`, `NotAction`, a bare
account ID and `"AWS": "*"` with a condition that binds no account are judged for what IAM makes
of them, not for how they are spelt."""

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Optional

from .normalise import (
    ACCOUNT_ID,
    UNKNOWN,
    account_of,
    action_patterns,
    as_list,
    binding_values,
    bound_accounts,
    condition_keys,
    dig,
    effect,
    grants,
    has_wildcard,
    json_document,
    label,
    principals,
    resources,
    source_bound,
    statements,
    too_broad,
)
from .stack import StackInput, StackViolation, stack_resource

IAM_ROLE = "aws:iam/role:Role"
IAM_ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
IAM_POLICY = "aws:iam/policy:Policy"
# Identity policies: the same rules whoever they are attached to.
IDENTITY_POLICIES = frozenset(
    {IAM_ROLE_POLICY, IAM_POLICY, "aws:iam/userPolicy:UserPolicy", "aws:iam/groupPolicy:GroupPolicy"}
)
IAM_POLICY_ATTACHMENTS = frozenset(
    {
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        "aws:iam/policyAttachment:PolicyAttachment",
        "aws:iam/groupPolicyAttachment:GroupPolicyAttachment",
        "aws:iam/userPolicyAttachment:UserPolicyAttachment",
    }
)
IAM_EXCLUSIVE_ATTACHMENTS = "aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive"
CODEBUILD_SOURCE_CREDENTIAL = "aws:codebuild/sourceCredential:SourceCredential"
KMS_GRANT = "aws:kms/grant:Grant"

# Resources that hold a resource-based policy (a grant to principals, possibly of other accounts),
# and the property that holds it. Key policies are judged in kms.py.
RESOURCE_POLICIES = {
    "aws:s3/bucketPolicy:BucketPolicy": "policy",
    "aws:sns/topic:Topic": "policy",
    "aws:sns/topicPolicy:TopicPolicy": "policy",
    "aws:ecr/repositoryPolicy:RepositoryPolicy": "policy",
    "aws:ecr/registryPolicy:RegistryPolicy": "policy",
    "aws:secretsmanager/secretPolicy:SecretPolicy": "policy",
    "aws:sqs/queuePolicy:QueuePolicy": "policy",
    "aws:codebuild/resourcePolicy:ResourcePolicy": "policy",
    "aws:cloudwatch/eventBusPolicy:EventBusPolicy": "policy",
    "aws:cloudwatch/logResourcePolicy:LogResourcePolicy": "policyDocument",
    "aws:secretsmanager/secret:Secret": "policy",
    "aws:sqs/queue:Queue": "policy",
    "aws:s3/bucket:Bucket": "policy",
    "aws:s3/bucketV2:BucketV2": "policy",
    "aws:s3/accessPoint:AccessPoint": "policy",
    "aws:ecr/repositoryCreationTemplate:RepositoryCreationTemplate": "repositoryPolicy",
}
# Permissions that are resource policies in the shape of one statement: a principal of "*" needs a
# source that pins the caller (Lambda: sourceAccount or sourceArn; EventBridge bus: a condition).
PERMISSIONS = {
    "aws:lambda/permission:Permission": ("principal", ("sourceAccount", "sourceArn", "principalOrgId")),
    "aws:cloudwatch/eventPermission:EventPermission": ("principal", ("condition",)),
}

# Resources that exist only to hold credentials that never expire: IAM users and their keys,
# passwords, SSH keys, service-specific passwords and signing certificates.
LONG_LIVED_CREDENTIAL_TYPES = frozenset(
    {
        "aws:iam/user:User",
        "aws:iam/accessKey:AccessKey",
        "aws:iam/userLoginProfile:UserLoginProfile",
        "aws:iam/serviceSpecificCredential:ServiceSpecificCredential",
        "aws:iam/sshKey:SshKey",
        "aws:iam/signingCertificate:SigningCertificate",
    }
)

# Actions that have no resource-level permissions, so a statement for them must say Resource "*".
# Keep this list minimal: each entry is a read-or-register call the pipeline needs.
# Source: the "Resource types" column of each action in the Service Authorization Reference,
# https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html
RESOURCE_STAR_ACTIONS = frozenset(
    {
        "ecr:getauthorizationtoken",  # docker login to ECR
        "ecs:describetaskdefinition",  # ECS deploy action reads the running revision
        "ecs:registertaskdefinition",  # ECS deploy action registers the new revision
        "ecs:listtasks",  # ECS deploy action watches the rollout; needs an ecs:cluster condition
        # CodeDeploy blue/green reads the load balancer wiring it shifts traffic on.
        "elasticloadbalancing:describelisteners",
        "elasticloadbalancing:describerules",
        "elasticloadbalancing:describetargetgroups",
        "elasticloadbalancing:describetargethealth",
        # A Lambda function in a VPC looks up its network interfaces and subnets.
        "ec2:describenetworkinterfaces",
        "ec2:describesubnets",
    }
)
# A Lambda function in a VPC: Lambda creates and deletes its network interfaces with the function's
# role, and their IDs are not known beforehand. These actions may name every network interface,
# subnet and security group of one account and region (never "*" or another account). Not narrowed
# by an ec2:Vpc condition: Lambda checks the role when the function is created, and a public
# simulation trace of that check carries no ec2:Vpc (https://pastebin.com/P9t3QWEY), so the first
# `pulumi up` would fail. https://docs.aws.amazon.com/lambda/latest/dg/configuration-vpc.html
LAMBDA_NETWORK_ACTIONS = frozenset(
    {
        "ec2:assignprivateipaddresses",
        "ec2:createnetworkinterface",
        "ec2:deletenetworkinterface",
        "ec2:unassignprivateipaddresses",
    }
)
_ONE_ACCOUNTS_NETWORK = re.compile(r"^arn:[\w-]+:ec2:[a-z0-9-]+:\d{12}:(network-interface|subnet|security-group)/\*$")
# AWS-managed policies grant their actions on every resource of the account, and AWS changes them
# without notice: none is attached here. An organisation that must attach one lists it in its copy
# of the pack.
ALLOWED_MANAGED_POLICIES: frozenset[str] = frozenset()
_AWS_MANAGED_POLICY = re.compile(r"^arn:[\w-]+:iam::aws:policy/")

# Service principals whose documented trust policy carries no aws:SourceAccount/aws:SourceArn
# condition: a condition on a key the service does not send locks it out of the role, so it is
# not required of them (components/iam.py SOURCE_KEYS_SENT holds the sources; a test keeps the two
# in step).
SERVICES_WITHOUT_SOURCE_KEYS = frozenset(
    {"codepipeline.amazonaws.com", "codedeploy.amazonaws.com", "ecs.amazonaws.com", "lambda.amazonaws.com"}
)


# Identity policies ----------------------------------------------------------------------------


def _policy_document_problems(document: Mapping[str, Any], where: str) -> list[str]:
    problems = []
    for index, statement in enumerate(statements(document)):
        if effect(statement) != "allow":
            continue
        named = f"{where} {label(statement, index)}"
        actions = action_patterns(statement)
        found = resources(statement)
        if "NotAction" in statement or "NotResource" in statement:
            problems.append(f"{named}: Allow with NotAction/NotResource grants everything not listed")
        for action in actions:
            if has_wildcard(action):
                problems.append(f"{named}: action {action!r} contains a wildcard (* or ?); list the actions")
        broad = [r for r in found if too_broad(r)]
        if broad:
            unscoped = [
                a
                for a in actions
                if not has_wildcard(a)
                and a not in RESOURCE_STAR_ACTIONS
                and not (a in LAMBDA_NETWORK_ACTIONS and all(_ONE_ACCOUNTS_NETWORK.match(r) for r in broad))
            ]
            if unscoped:
                problems.append(
                    f"{named}: resource {broad[0]!r} covers every resource of its type for {', '.join(unscoped)}; "
                    "only actions without resource-level permissions (ecr:GetAuthorizationToken, "
                    "ecs:DescribeTaskDefinition, ecs:RegisterTaskDefinition, ecs:ListTasks, "
                    'elasticloadbalancing:Describe*) may use Resource "*"'
                )
            if "ecs:listtasks" in actions and not binding_values(statement, "ecs:cluster"):
                problems.append(f'{named}: ecs:ListTasks on Resource "*" needs an ecs:cluster condition')
        if grants(statement, "iam:PassRole"):
            if not found or broad:
                problems.append(f"{named}: iam:PassRole must name the roles it may pass, not every role")
            if not binding_values(statement, "iam:PassedToService"):
                problems.append(
                    f"{named}: iam:PassRole needs an iam:PassedToService condition naming the services (StringEquals)"
                )
        for prefix in ("codeconnections", "codestar-connections"):
            if grants(statement, f"{prefix}:UseConnection") and not _names_repositories(statement, prefix):
                problems.append(
                    f"{named}: {prefix}:UseConnection needs a {prefix}:FullRepositoryId condition naming the "
                    "repositories it may read (StringEquals, owner/name)"
                )
    return problems


def _names_repositories(statement: Mapping[str, Any], prefix: str) -> bool:
    """UseConnection pinned to literal owner/name repositories. A full clone's CodeBuild role is the
    one exception taken: AWS does not document that its UseConnection carries FullRepositoryId, so
    `StringEqualsIfExists` is accepted there, on one named connection (components/source.py)."""
    key = f"{prefix}:FullRepositoryId"
    repositories = binding_values(statement, key)
    if repositories is None and len(resources(statement)) == 1 and not too_broad(resources(statement)[0]):
        block = (statement.get("Condition") or {}).get("StringEqualsIfExists")
        values = [v for k, v in block.items() if str(k).lower() == key.lower()] if isinstance(block, Mapping) else []
        repositories = [r for v in values for r in as_list(v) if isinstance(r, str)] or None
    return bool(repositories) and all(re.fullmatch(r"[\w.-]+/[\w.-]+", r) for r in repositories)


# GitHub's OIDC issuer: a subject pins one repository as `repo:<owner>/<name>:...`, and the audience
# must be STS ("sts.amazonaws.com" for aws-actions/configure-aws-credentials).
# https://docs.github.com/en/actions/security-for-github-actions/security-hardening-your-deployments/configuring-openid-connect-in-amazon-web-services
_REPOSITORY_SUBJECT = re.compile(r"^repo:[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+:")


def _web_identity_problems(statement: Mapping[str, Any], named: str) -> list[str]:
    issuers = {key.rsplit(":", 1)[0] for key in condition_keys(statement) if key.endswith((":sub", ":aud"))}
    problems = []
    subjects = [v for issuer in issuers for v in binding_values(statement, f"{issuer}:sub", patterns=True) or []]
    if not subjects or any(v.strip() in ("*", "repo:*") for v in subjects):
        problems.append(f"{named}: web-identity federation needs a <issuer>:sub condition naming the subject")
    elif any("token.actions.githubusercontent.com" in i for i in issuers) and not all(
        _REPOSITORY_SUBJECT.match(v) for v in subjects
    ):
        problems.append(f"{named}: a GitHub OIDC subject must name one repository (repo:<owner>/<name>:...)")
    audiences = [v for issuer in issuers for v in binding_values(statement, f"{issuer}:aud") or []]
    if not audiences:
        problems.append(f"{named}: web-identity federation needs an <issuer>:aud condition (StringEquals)")
    return problems


def _managed_policy_problem(arn: Any) -> Optional[str]:
    if isinstance(arn, str) and _AWS_MANAGED_POLICY.match(arn) and arn not in ALLOWED_MANAGED_POLICIES:
        return f"attaches the AWS-managed policy {arn}, which grants its actions on every resource of the account"
    return None


def check_iam_least_privilege(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    if resource_type in IDENTITY_POLICIES:
        document, problems = json_document(dig(props, "policy"), "IAM policy")
        return problems if document is None else _policy_document_problems(document, "IAM policy")
    if resource_type == IAM_ROLE:
        problems = []
        inline = dig(props, "inlinePolicies")
        for index, policy in enumerate([] if inline is UNKNOWN else as_list(inline)):
            name = dig(policy, "name")
            where = f"inline policy {name!r}" if isinstance(name, str) and name else f"inline policy #{index}"
            document, found = json_document(dig(policy, "policy"), where)
            problems.extend(found if document is None else _policy_document_problems(document, where))
        arns = dig(props, "managedPolicyArns")
        problems += [
            f"role {p}" for a in ([] if arns is UNKNOWN else as_list(arns)) if (p := _managed_policy_problem(a))
        ]
        return problems
    if resource_type in IAM_POLICY_ATTACHMENTS:
        problem = _managed_policy_problem(dig(props, "policyArn"))
        return [problem] if problem else []
    if resource_type == IAM_EXCLUSIVE_ATTACHMENTS:
        arns = dig(props, "policyArns")
        return [p for a in ([] if arns is UNKNOWN else as_list(arns)) if (p := _managed_policy_problem(a))]
    return []


# Trust policies -------------------------------------------------------------------------------


def check_iam_role_trust(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    if resource_type != IAM_ROLE:
        return []
    document, problems = json_document(dig(props, "assumeRolePolicy"), "role assumeRolePolicy")
    if document is None:
        return problems
    for index, statement in enumerate(statements(document)):
        if effect(statement) != "allow":
            continue
        named = f"trust policy {label(statement, index)}"
        found = principals(statement)
        if "NotPrincipal" in statement:
            problems.append(f"{named}: Allow with NotPrincipal trusts everyone not listed")
        elif any(p.everyone for p in found):
            problems.append(f'{named}: trusts every AWS principal ("*")')
        for principal in found:
            if principal.account_root:
                problems.append(
                    f"{named}: trusts {principal.value}, every principal of account {principal.account} that may "
                    "call sts:AssumeRole; name the role that assumes this one"
                )
        services = {p.value for p in found if p.kind == "Service"}
        if services and not services <= SERVICES_WITHOUT_SOURCE_KEYS:
            missing = [
                key
                for key, bound in (
                    ("aws:SourceAccount", bool(bound_accounts(statement))),
                    ("aws:SourceArn", bool(binding_values(statement, "aws:SourceArn", patterns=True))),
                )
                if not bound
            ]
            if missing or not source_bound(statement):
                problems.append(
                    f"{named}: a service principal without {' and '.join(missing) or 'binding'} conditions lets the "
                    "service assume the role on behalf of any account or resource (confused deputy)"
                )
        if any(p.kind == "Federated" for p in found) and grants(statement, "sts:AssumeRoleWithWebIdentity"):
            problems += _web_identity_problems(statement, named)
    return problems


def check_no_long_lived_credentials(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    if resource_type in LONG_LIVED_CREDENTIAL_TYPES:
        return [f"{resource_type} creates long-lived credentials; use roles (and CodeConnections for GitHub)"]
    if resource_type == CODEBUILD_SOURCE_CREDENTIAL:
        auth = dig(props, "authType")
        if auth is not UNKNOWN and auth != "CODECONNECTIONS":
            return [f"CodeBuild source credential of authType {auth!r} stores a long-lived token; use CODECONNECTIONS"]
    return []


# Resource policies ----------------------------------------------------------------------------


def check_resource_policies(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """A resource policy (bucket, topic, repository, secret, queue, ...) lets in no one at large:
    `"*"` only with a condition that pins the caller's account, and a service only for this
    account's resources (aws:SourceAccount or aws:SourceArn), as for role trust."""
    if resource_type in PERMISSIONS:
        principal_key, pinning = PERMISSIONS[resource_type]
        if dig(props, principal_key) == "*" and not any(dig(props, key) for key in pinning):
            return [f'{resource_type} grants "*" without {" or ".join(pinning)}: any account may use it']
        return []
    prop = RESOURCE_POLICIES.get(resource_type)
    if prop is None or dig(props, prop) is None:
        return []
    document, problems = json_document(dig(props, prop), "resource policy")
    for index, statement in enumerate(statements(document or {})):
        if effect(statement) != "allow":
            continue
        named = f"resource policy {label(statement, index)}"
        found = principals(statement)
        if any(p.everyone for p in found) and bound_accounts(statement) is None:
            problems.append(
                f'{named}: allows "*" without a condition that pins the caller\'s account (StringEquals on '
                "aws:PrincipalAccount, aws:SourceAccount or aws:PrincipalOrgID, or an ARN condition naming the account)"
            )
        services = {p.value for p in found if p.kind == "Service"} - SERVICES_WITHOUT_SOURCE_KEYS
        if services and not source_bound(statement):
            problems.append(
                f"{named}: lets {', '.join(sorted(services))} act for any account (confused deputy); add an "
                "aws:SourceArn or aws:SourceAccount condition"
            )
    return problems


# Accounts -------------------------------------------------------------------------------------

_POLICY_PROPERTIES: Mapping[str, Sequence[str]] = {
    IAM_ROLE: ("assumeRolePolicy",),
    "aws:kms/key:Key": ("policy",),
    "aws:kms/keyPolicy:KeyPolicy": ("policy",),
    "aws:kms/replicaKey:ReplicaKey": ("policy",),
    "aws:kms/externalKey:ExternalKey": ("policy",),
    "aws:kms/replicaExternalKey:ReplicaExternalKey": ("policy",),
    **{kind: (prop,) for kind, prop in RESOURCE_POLICIES.items()},
}


def _documents(resource_type: str, props: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
    for prop in _POLICY_PROPERTIES.get(resource_type, ()):
        document, _ = json_document(dig(props, prop), prop)
        if document is not None:
            yield document


def home_accounts(resources: Iterable[Any]) -> set[str]:
    """The accounts the stack's own resources live in, from the ARNs AWS gave them (outputs the
    engine sends once a resource exists); the stack's authors cannot choose these."""
    found = {account_of(dig(resource.props, "arn")) for resource in resources}
    return {account for account in found if ACCOUNT_ID.match(account)}


def check_principal_accounts(
    resources: Iterable[StackInput], trusted_accounts: Iterable[str] = ()
) -> list[StackViolation]:
    """No policy names a principal (or pins a caller) in an account other than the stack's own and
    those the pack's configuration trusts (`trustedAccounts`). The stack's accounts come from its
    resources' ARNs; before anything exists (a first preview) and without configuration there is
    nothing to compare with, and the check says nothing."""
    stack = [stack_resource(item) for item in resources]
    allowed = home_accounts(stack) | {str(a) for a in trusted_accounts}
    if not allowed:
        return []
    violations = []
    for resource in stack:
        grantee = dig(resource.props, "granteePrincipal") if resource.resource_type == KMS_GRANT else None
        account = account_of(grantee) or (grantee if isinstance(grantee, str) and ACCOUNT_ID.match(grantee) else "")
        if account and account not in allowed:
            violations.append(
                StackViolation(
                    f"{resource.name or resource.resource_type}: KMS grant to account {account}, which is neither "
                    f"this stack's ({', '.join(sorted(allowed))}) nor in the pack's trustedAccounts",
                    resource.urn or None,
                )
            )
        for document in _documents(resource.resource_type, resource.props):
            for index, statement in enumerate(statements(document)):
                if effect(statement) != "allow":
                    continue
                named = [p.account for p in principals(statement) if p.account] + sorted(
                    bound_accounts(statement) or ()
                )
                foreign = sorted({a for a in named if ACCOUNT_ID.match(a) and a not in allowed})
                if foreign:
                    violations.append(
                        StackViolation(
                            f"{resource.name or resource.resource_type}: policy {label(statement, index)} lets in "
                            f"account {', '.join(foreign)}, which is neither this stack's "
                            f"({', '.join(sorted(allowed))}) nor in the pack's trustedAccounts",
                            resource.urn or None,
                        )
                    )
    return violations
