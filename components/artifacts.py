"""Where pipeline artifacts live: a KMS key and an S3 bucket, shared by every stage.

Its own component (not part of the pipeline) because the stages' roles need its ARNs before
the pipeline exists, and because one store can serve several pipelines in a stack.
"""

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, Optional, Required, TypedDict

import pulumi
import pulumi_aws as aws

from . import iam, naming
from .account import AwsAccount
from .args import documented, known_keys, require_region
from .buckets import private_bucket
from .iam import allow, deny_insecure_transport
from .inputs import Input


class CrossAccountReaderArgs(TypedDict, total=False):
    role_arn: Required[Input[str]]
    """A role in another account (a target account's deploy role). Required."""
    pipeline: Required[str]
    """The pipeline whose artifact folder it reads. Required."""


class ArtifactStoreArgs(TypedDict, total=False):
    expiration_days: int
    """Days after which artifacts and their noncurrent versions are deleted. Default 30."""
    protect: bool
    """Protect the bucket and key from deletion. Default True."""
    tags: Mapping[str, str]
    """Tags for every resource."""
    writer_pattern: Input[str]
    """ARN pattern of the roles that may write artifacts (`iam.RolePaths`, the pipeline path):
    the bucket policy refuses writes and deletes by any other principal. Without it, IAM alone
    decides who writes."""
    region: str
    """Make the store in this region instead of the provider's: the store of a pipeline's
    cross-region actions (`Pipeline` `regional_artifact_stores`). The store makes a provider for
    it, a child of its own, with `provider_settings`."""
    provider_settings: Mapping[str, Any]
    """With `region`: that provider's other arguments (profile, assume_roles, allowed_account_ids),
    the stack's own, so the store lands in the same account."""
    cross_account_readers: Sequence[CrossAccountReaderArgs]
    """Deploy roles in other accounts (`TargetAccountAccess.role_arn`) and the pipeline whose
    artifacts each reads: the bucket policy lets each read that pipeline's folder, and the key
    policy (`limit_key_use`) lets each decrypt through S3. Nothing else from another account."""
    account: AwsAccount
    """Account context; looked up when omitted."""


@documented(ArtifactStoreArgs)
class ArtifactStore(pulumi.ComponentResource):
    """A versioned, KMS-encrypted, private, TLS-only artifact bucket with a rotating customer key."""

    bucket: aws.s3.Bucket
    key: aws.kms.Key
    logs_key: aws.kms.Key
    """Encrypts the stack's log groups: build logs and service logs (`LogGroup.kms_key_id`)."""

    def __init__(self, name: str, args: ArtifactStoreArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("cicd:index:ArtifactStore", name, None, opts)
        known_keys("ArtifactStore", name, args, ArtifactStoreArgs)
        self._name = name
        expiration_days = args.get("expiration_days", 30)
        if not isinstance(expiration_days, int) or not 1 <= expiration_days <= 3650:
            raise ValueError(f"ArtifactStore expiration_days must be 1-3650, got {expiration_days!r}")
        tags = dict(args.get("tags", {}))
        account = args.get("account") or AwsAccount.current()
        region = args.get("region")
        if "provider_settings" in args and region is None:
            raise ValueError(f"ArtifactStore {name}: provider_settings go with region; allowed: give region too")
        # Another region: CodePipeline wants "the artifact bucket and encryption key in the same AWS
        # Region as the cross-Region action and in the same account as your pipeline"
        # (https://docs.aws.amazon.com/codepipeline/latest/userguide/actions-create-cross-region.html).
        # With `region`, the provider the store makes there: every resource of the store is made through it.
        self._provider: Optional[aws.Provider] = None
        if region is not None:
            account = account.in_region(require_region(f"ArtifactStore {name}: region", region))
            self._provider = aws.Provider(
                f"{name}-provider",
                region=region,
                default_tags={"tags": tags},
                **dict(args.get("provider_settings", {})),
                opts=pulumi.ResourceOptions(parent=self),
            )
        stateful = pulumi.ResourceOptions(parent=self, protect=args.get("protect", True), provider=self._provider)
        child = pulumi.ResourceOptions(parent=self, provider=self._provider)

        self.key = aws.kms.Key(
            f"{name}-key",
            description=f"{name}: pipeline artifacts",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            tags=tags,
            opts=stateful,
        )
        aws.kms.Alias(
            f"{name}-key-alias", name=naming.kms_alias(name, "artifacts"), target_key_id=self.key.id, opts=child
        )

        # Build and service logs hold what builds and tasks print, secrets printed by mistake
        # included: a key of their own, whose policy (set at creation, before any log group names
        # it) lets CloudWatch Logs use it for this account's log groups in this region only.
        self.logs_key = aws.kms.Key(
            f"{name}-logs-key",
            description=f"{name}: build and service logs",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=pulumi.Output.all(account.partition, account.id, account.region).apply(
                lambda a: _logs_key_policy(*a)
            ),
            tags=tags,
            opts=stateful,
        )
        aws.kms.Alias(
            f"{name}-logs-key-alias", name=naming.kms_alias(name, "logs"), target_key_id=self.logs_key.id, opts=child
        )

        self.bucket, public_access = private_bucket(
            name,
            kms_key_arn=self.key.arn,
            tags=tags,
            parent=self,
            protect=args.get("protect", True),
            provider=self._provider,
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            bucket=self.bucket.id,
            rules=[
                {
                    "id": "expire-artifacts",
                    "status": "Enabled",
                    "filter": {},
                    "expiration": {"days": expiration_days},
                    "noncurrent_version_expiration": {"noncurrent_days": expiration_days},
                    "abort_incomplete_multipart_upload": {"days_after_initiation": 1},
                }
            ],
            opts=child,
        )
        writers = args.get("writer_pattern")
        if writers is not None:
            pulumi.Output.from_input(writers).apply(_check_role_pattern)
        self._readers = [
            _check_reader(name, index, reader) for index, reader in enumerate(args.get("cross_account_readers", ()))
        ]
        readers = pulumi.Output.all(*(pulumi.Output.from_input(r["role_arn"]) for r in self._readers)).apply(
            lambda arns: [
                (_reader_role(name, arn), artifact_folder_pattern(r["pipeline"]))
                for arn, r in zip(arns, self._readers, strict=True)
            ]
        )
        aws.s3.BucketPolicy(
            f"{name}-tls-only",
            bucket=self.bucket.id,
            policy=pulumi.Output.all(self.bucket.arn, self.key.arn, writers, readers).apply(
                lambda a: _bucket_policy(*a)
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[public_access], provider=self._provider),
        )
        self._account = account
        self._key_policy: Optional[aws.kms.KeyPolicy] = None
        if self._readers:
            # The readers decrypt only if the key policy names them: written here, with the use
            # limited to the pipelines' roles, so no caller can forget it.
            if writers is None:
                raise ValueError(
                    f"ArtifactStore {name}: cross_account_readers needs writer_pattern: the key policy that lets "
                    "other accounts' deploy roles decrypt also limits the key's use to the pipelines' roles"
                )
            self.limit_key_use(role_pattern=writers)
        self.register_outputs(
            {"bucket": self.bucket.bucket, "key_arn": self.key.arn, "logs_key_arn": self.logs_key.arn}
        )

    def limit_key_use(
        self, roles: "Sequence[iam.ScopedRole | aws.iam.Role]" = (), *, role_pattern: Optional[Input[str]] = None
    ) -> aws.kms.KeyPolicy:
        """Replace the key's default policy: account administrators manage the key but cannot use
        it, only the pipeline's roles may encrypt and decrypt with it, and EventBridge of this
        account may encrypt alerts (CICD-SEC-7). Call once, after every pipeline role exists.

        Name the roles (`roles`), or, for a stack of many pipelines, the ARN pattern of their IAM
        path (`role_pattern`, from `iam.RolePaths`): a policy naming each role grows by about 80
        bytes a role, and KMS allows 32 KB; the pattern stays one line."""
        if self._key_policy is not None:
            raise ValueError(
                f"limit_key_use: the key policy of {self._name} is already written (once per store; with "
                "cross_account_readers the store writes it itself, for the roles under writer_pattern)"
            )
        if not roles and role_pattern is None:
            raise ValueError("limit_key_use: give the roles that use the key, or their role_pattern")
        if role_pattern is not None:
            pulumi.Output.from_input(role_pattern).apply(_check_role_pattern)
        readers = pulumi.Output.all(*(r["role_arn"] for r in self._readers))
        self._key_policy = aws.kms.KeyPolicy(
            f"{self._name}-key-policy",
            key_id=self.key.key_id,
            policy=pulumi.Output.all(
                self._account.partition,
                self._account.id,
                role_pattern,
                self._account.region,
                readers,
                *(role.arn for role in roles),
            ).apply(
                lambda a: _key_policy_document(
                    f"arn:{a[0]}:iam::{a[1]}:root", a[1], a[5:], a[2], readers=a[4], region=a[3]
                )
            ),
            opts=pulumi.ResourceOptions(parent=self, provider=self._provider),
        )
        return self._key_policy

    def objects(self, pipelines: Optional[Sequence[str]] = None) -> list[pulumi.Output[str]]:
        """The object ARNs of these pipelines' artifacts (all objects when None). CodePipeline keeps
        a pipeline's artifacts in a folder named after the pipeline ("A folder to contain the
        pipeline artifacts is created for you based on the name of the pipeline",
        https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_ArtifactStore.html); it
        is known to cut long names to their first 20 characters, so the pattern is those first
        characters and `*`: right whether or not the name is cut."""
        if not pipelines:
            return [self.bucket.arn.apply(lambda a: f"{a}/*")]
        return [self.bucket.arn.apply(lambda a, p=p: f"{a}/{artifact_folder_pattern(p)}") for p in pipelines]

    def read_statements(self, sid: str, pipelines: Optional[Sequence[str]] = None) -> list[pulumi.Output[dict]]:
        """What a role needs to read artifacts (CodeBuild input, deploy input) of `pipelines` (of
        every pipeline when None)."""
        return [
            allow(f"{sid}ReadArtifacts", ["s3:GetObject", "s3:GetObjectVersion"], self.objects(pipelines)),
            allow(f"{sid}DecryptArtifacts", ["kms:Decrypt"], [self.key.arn]),
        ]

    def read_write_statements(self, sid: str, pipelines: Optional[Sequence[str]] = None) -> list[pulumi.Output[dict]]:
        """What a role needs to read and write artifacts of `pipelines` (the pipeline, a build
        with output)."""
        return [
            allow(
                f"{sid}ReadWriteArtifacts",
                ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"],
                self.objects(pipelines),
            ),
            allow(
                f"{sid}ListArtifactBucket",
                ["s3:GetBucketLocation", "s3:GetBucketVersioning", "s3:ListBucket"],
                [self.bucket.arn],
            ),
            allow(f"{sid}EncryptArtifacts", ["kms:Decrypt", "kms:GenerateDataKey"], [self.key.arn]),
        ]


def _check_reader(name: str, index: int, reader: Any) -> CrossAccountReaderArgs:
    known_keys("ArtifactStore", f"{name}.cross_account_readers[{index}]", reader, CrossAccountReaderArgs)
    for required in ("role_arn", "pipeline"):
        if not reader.get(required):
            raise ValueError(f"ArtifactStore {name}: cross_account_readers[{index}].{required} is required")
    if isinstance(reader["role_arn"], str):
        _reader_role(name, reader["role_arn"])
    iam.require_codepipeline_name(f"ArtifactStore {name}: cross_account_readers[{index}].pipeline", reader["pipeline"])
    return reader


def _reader_role(name: str, arn: str) -> str:
    return iam.require_role_arn(f"ArtifactStore {name}: cross_account_readers role_arn", arn)


def _check_role_pattern(pattern: str) -> str:
    """A pattern at the root path (`role/*`) is every role of the account: refuse it."""
    if not re.fullmatch(r"arn:aws[a-z-]*:iam::\d{12}:role/[^*?]+/\*", pattern):
        raise ValueError(
            f"limit_key_use: role_pattern {pattern!r} must name the roles under one IAM path, "
            "`arn:<partition>:iam::<account>:role/<path>/*` (iam.RolePaths), not every role of the account"
        )
    return pattern


# Managing the key, without using it: no Decrypt, Encrypt, GenerateDataKey or CreateGrant here.
KEY_ADMINISTRATION = [
    "kms:CancelKeyDeletion",
    "kms:CreateAlias",
    "kms:DeleteAlias",
    "kms:DescribeKey",
    "kms:DisableKey",
    "kms:DisableKeyRotation",
    "kms:EnableKey",
    "kms:EnableKeyRotation",
    "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus",
    "kms:ListAliases",
    "kms:ListGrants",
    "kms:ListKeyPolicies",
    "kms:ListResourceTags",
    "kms:PutKeyPolicy",
    "kms:RevokeGrant",
    "kms:ScheduleKeyDeletion",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:UpdateAlias",
    "kms:UpdateKeyDescription",
]
KEY_USE = [
    "kms:Decrypt",
    "kms:DescribeKey",
    "kms:Encrypt",
    "kms:GenerateDataKey",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
]


def key_administration(root: str) -> dict:
    """The key-policy statement that lets the account's administrators manage a key, not use it.
    (In a key policy, Resource "*" means the key itself.)"""
    return {
        "Sid": "AdministratorsManageButCannotUse",
        "Effect": "Allow",
        "Principal": {"AWS": root},
        "Action": KEY_ADMINISTRATION,
        "Resource": "*",
    }


def events_encrypt_alerts(account_id: str) -> dict:
    """The key-policy statement that lets EventBridge of this account publish to a topic the key
    encrypts (SNS asks the publisher's side for the data key)."""
    return {
        "Sid": "EventBridgeEncryptsAlertsOfThisAccount",
        "Effect": "Allow",
        "Principal": {"Service": "events.amazonaws.com"},
        "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
        "Resource": "*",
        "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
    }


# CloudWatch Logs encrypts and decrypts log events itself, as `logs.<region>.amazonaws.com`; the
# key policy must let it, for log groups named in the encryption context, before a log group is
# associated with the key. Writers (CodeBuild, the awslogs driver) and readers need no KMS rights.
# Source: https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html
# The doc's kms:Encrypt*, Decrypt*, ReEncrypt*, GenerateDataKey* and Describe*, spelt out (log data is
# encrypted with symmetric data keys: no key pairs).
LOGS_KEY_ACTIONS = [
    "kms:Decrypt",
    "kms:DescribeKey",
    "kms:Encrypt",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
]


def _logs_key_policy(partition: str, account_id: str, region: str) -> str:
    log_groups = f"arn:{partition}:logs:{region}:{account_id}:log-group:*"
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                key_administration(f"arn:{partition}:iam::{account_id}:root"),
                {
                    "Sid": "CloudWatchLogsOfThisAccountAndRegion",
                    "Effect": "Allow",
                    "Principal": {"Service": f"logs.{region}.amazonaws.com"},
                    "Action": LOGS_KEY_ACTIONS,
                    "Resource": "*",
                    "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": log_groups}},
                },
            ],
        },
        sort_keys=True,
    )


def _key_policy_document(
    root: str,
    account_id: str,
    users: Sequence[str],
    pattern: Optional[str] = None,
    readers: Sequence[str] = (),
    region: str = "",
) -> str:
    # In a key policy, Resource "*" means this key.
    use: list[dict] = []
    if readers:
        # Deploy roles of other accounts read their pipeline's artifacts: decrypt, only as S3 does
        # it for them (kms:ViaService, https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-via-service).
        use.append(
            {
                "Sid": "TargetAccountsDeployRolesDecryptThroughS3",
                "Effect": "Allow",
                "Principal": {"AWS": sorted(set(readers))},
                "Action": "kms:Decrypt",
                "Resource": "*",
                "Condition": {"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}},
            }
        )
    if users:
        use.append(
            {
                "Sid": "OnlyThePipelineRolesUseIt",
                "Effect": "Allow",
                "Principal": {"AWS": sorted(set(users))},
                "Action": KEY_USE,
                "Resource": "*",
            }
        )
    if pattern:
        # Any principal of this account whose role sits under the pipeline path, and no other:
        # aws:PrincipalArn is the role's ARN, path included, for a session of that role
        # (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principalarn).
        use.append(
            {
                "Sid": "OnlyThePipelineRolesUseIt" if not users else "OnlyThePipelinePathUsesIt",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": KEY_USE,
                "Resource": "*",
                "Condition": {
                    "StringEquals": {"aws:PrincipalAccount": account_id},
                    "ArnLike": {"aws:PrincipalArn": pattern},
                },
            }
        )
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                key_administration(root),
                *use,
                events_encrypt_alerts(account_id),
            ],
        },
        sort_keys=True,
    )


# How much of a pipeline's name the folder of its artifacts is known to keep (objects() says why
# the grants use a prefix of this length and a wildcard).
ARTIFACT_FOLDER_CHARACTERS = 20


def artifact_folder(pipeline: str) -> str:
    """The folder CodePipeline keeps a pipeline's artifacts in: its name, or its first 20
    characters. Two pipelines of one store whose folders are the same share their artifacts, so
    `settings` refuses such a stack."""
    return pipeline[:ARTIFACT_FOLDER_CHARACTERS]


def artifact_folder_pattern(pipeline: str) -> str:
    """The object pattern of a pipeline's folder: `<name>/*` for a short name (not `<name>*`, which
    would cover `<name>-other/`), `<first 20 characters>*` for a long one (right whether or not
    the name is cut)."""
    if len(pipeline) < ARTIFACT_FOLDER_CHARACTERS:
        return f"{pipeline}/*"
    return f"{artifact_folder(pipeline)}*"


def _bucket_policy(
    bucket_arn: str, key_arn: str, writers: Optional[str], readers: Sequence[tuple[str, str]] = ()
) -> str:
    """TLS only; and, so that nothing swaps an artifact while a deploy waits for its approval
    (CICD-SEC-9): no object written encrypted other than with this key, and, with `writers`, no
    object written or deleted by a principal other than the pipelines' roles. Each of `readers`
    (a role of another account, a pipeline's folder pattern) may read that folder."""
    objects = f"{bucket_arn}/*"
    statements = [
        # A Deny for every S3 action over plain HTTP: a wildcard that takes rights away.
        deny_insecure_transport("s3:*", [bucket_arn, objects]),
        {
            # A request that names an encryption must name this key's; one that names none gets the
            # bucket's default, this key (so the writers that do not send the headers still work).
            "Sid": "DenyWritesNotEncryptedWithTheArtifactKey",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:PutObject",
            "Resource": objects,
            "Condition": {"StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption": "aws:kms"}},
        },
        {
            "Sid": "DenyWritesWithAnotherKey",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:PutObject",
            "Resource": objects,
            "Condition": {"StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption-aws-kms-key-id": key_arn}},
        },
    ]
    if writers:
        statements.append(
            {
                "Sid": "OnlyThePipelinesWriteArtifacts",
                "Effect": "Deny",
                "Principal": "*",
                "Action": ["s3:DeleteObject", "s3:DeleteObjectVersion", "s3:PutObject", "s3:PutObjectAcl"],
                "Resource": objects,
                "Condition": {"ArnNotLike": {"aws:PrincipalArn": writers}},
            }
        )
    for index, (role_arn, folder) in enumerate(readers, start=1):
        statements.append(
            {
                "Sid": f"TargetAccountDeployRoleReads{index}",
                "Effect": "Allow",
                "Principal": {"AWS": role_arn},
                "Action": ["s3:GetObject", "s3:GetObjectVersion"],
                "Resource": f"{bucket_arn}/{folder}",
            }
        )
    return json.dumps({"Version": "2012-10-17", "Statement": statements}, sort_keys=True)
