"""The stack configuration contract: one JSON schema per `ecs-cicd:<key>`.

This is the single source of truth for every configuration key: `settings.py` validates
against it, the README's configuration reference is generated from it
(`python -m components.docs`), and a test keeps `Pulumi.yaml` in step with it.
`x-allowed` is our own annotation: the human wording of what a value may be, used in errors.
"""

import jsonschema
import jsonschema.validators

from .images import BOOTSTRAP_IMAGE

NAMESPACE = "ecs-cicd"

RESOURCE_NAME_FRAGMENT = r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$"

# CodePipeline trigger filters take at most 8 patterns each.
GLOBS = {"type": "array", "default": [], "maxItems": 8, "items": {"type": "string", "minLength": 1, "maxLength": 255}}

COMPUTE_TYPES = [
    "BUILD_GENERAL1_SMALL",
    "BUILD_GENERAL1_MEDIUM",
    "BUILD_GENERAL1_LARGE",
    "BUILD_GENERAL1_XLARGE",
    "BUILD_GENERAL1_2XLARGE",
]

EXECUTION_MODES = ["QUEUED", "SUPERSEDED", "PARALLEL"]

FARGATE_CPU = [256, 512, 1024, 2048, 4096, 8192, 16384]

STRATEGIES = ["rolling", "blue-green", "canary", "linear"]


SEVERITIES = ["CRITICAL", "HIGH", "MEDIUM", "LOW"]

# The values CloudWatch Logs accepts for retentionInDays (0, "never expire", is left out on purpose).
LOG_RETENTION_DAYS = [
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
]

CONNECTION_ARN = (
    r"^arn:aws[a-z-]*:(codestar-connections|codeconnections):[a-z0-9-]+:[0-9]{12}:connection/[0-9a-f-]{36}$"
)
SECRETS_MANAGER_REF = r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]+(:[^:]*){0,3}$"
SSM_PARAMETER_REF = r"^(/[A-Za-z0-9_.-]+)+$|^arn:aws[a-z-]*:ssm:[a-z0-9-]+:[0-9]{12}:parameter(/[A-Za-z0-9_.-]+)+$"
# AWS's own patterns for region names, from botocore's endpoints.json (`regionRegex` of each
# partition: commercial, China, GovCloud and the ISO partitions' `us-iso-east-1`, `eu-isoe-west-1`):
# `eu-west-9x`, `eu_west_1` and `eu-west-1\n` are not regions.
REGION = r"(us|eu|ap|sa|ca|me|af|il|mx|cn)(-gov|-iso[a-z]?)?-[a-z]+-[0-9]+"
# A role's ARN, and only a role's: `arn:<partition>:iam::<account>:role/<path><name>` (never an
# account, a user or a wildcard); the config's and the library's one rule (`iam.require_role_arn`).
ROLE_ARN = r"arn:(aws|aws-cn|aws-us-gov):iam::[0-9]{12}:role/([A-Za-z0-9+=,.@_-]+/)*[A-Za-z0-9+=,.@_-]{1,64}"
ENV_VAR_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"


def plain_variables(description: str, non_empty: bool = False) -> dict:
    """A map of variable names to plain, non-secret values."""
    values: dict = {"type": "string"}
    if non_empty:
        # ECS drops a variable whose value is empty when it registers a task definition
        # (hashicorp/terraform-provider-aws#39533): the revision would never match the config, and
        # every `pulumi up` would roll it out again.
        values = {**values, "minLength": 1, "x-allowed": "a non-empty string (ECS drops empty values)"}
    return {
        "type": "object",
        "default": {},
        "propertyNames": {"pattern": ENV_VAR_NAME},
        "additionalProperties": values,
        "x-allowed": "a map of variable names to plain, non-secret values"
        + (", none empty (ECS drops empty values)" if non_empty else ""),
        "description": description,
    }


def secret_references(description: str) -> dict:
    """A map of variable names to Secrets Manager / Parameter Store references, never values."""
    return {
        "type": "object",
        "default": {},
        "propertyNames": {"pattern": ENV_VAR_NAME},
        "additionalProperties": {
            "type": "string",
            "anyOf": [{"pattern": SECRETS_MANAGER_REF}, {"pattern": SSM_PARAMETER_REF}],
            "x-allowed": "a Secrets Manager secret ARN (optionally :json-key) or an SSM parameter "
            "name starting with '/' - a reference, never the secret value itself",
        },
        "x-allowed": "a map of variable names to secret references",
        "description": description,
    }


KEYS: dict[str, dict] = {
    "environment": {
        "type": "string",
        "pattern": RESOURCE_NAME_FRAGMENT,
        "maxLength": 12,
        "x-allowed": "lowercase letters, digits and single hyphens, starting with a letter, at most 12 characters",
        "description": "Environment name, used in resource names and tags. Defaults to the stack name.",
    },
    "production": {
        "type": "boolean",
        "description": "This stack deploys production: deploys wait for an approval (unless "
        "`insecure.allowUnapprovedProdDeploys`), no pull-request validation runs in it, executions queue. "
        "Defaults to true for environment names that say production (`prod`, `prd`, `production`, `live`, "
        "alone or as a `-`/`_` part) and to false for names that say otherwise (`dev`, `test`, `qa`, `staging`, "
        "`sandbox`, `demo`, `preview`, `int`, ...); for any other name it must be set: the program does not "
        "guess whether a stack is production.",
    },
    "protect": {
        "type": "boolean",
        "default": True,
        "description": "Protect stateful resources (ECR repository, artifact bucket, KMS key) from deletion. "
        "On unless a stack turns it off, so a forgotten key never leaves prod unprotected.",
    },
    "tags": {
        "type": "object",
        "default": {},
        "additionalProperties": {"type": "string", "maxLength": 256},
        "propertyNames": {"pattern": r"^(?!aws:)(?!ecs-cicd:)[A-Za-z0-9 _.:/=+@-]{1,128}$"},
        "x-allowed": "a map of tag names to string values",
        "description": "Extra tags for every resource, on top of `project`, `environment` and `service`.",
    },
    "source": {
        "type": "object",
        "description": "The GitHub repository and branch the pipeline builds.",
        "additionalProperties": False,
        "required": ["repository"],
        "properties": {
            "repository": {
                "type": "string",
                "pattern": r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$",
                "x-allowed": "a GitHub repository as owner/name, e.g. acme/web-api",
                "description": "GitHub repository to build, as `owner/name`.",
            },
            "branch": {
                "type": "string",
                "default": "main",
                # A branch's name, as CodePipeline's trigger filter and the source action take it:
                # `refs/heads/main` would match no push.
                "pattern": r"^(?!refs/)(?!/)(?!.*//)(?!.*\.\.)[A-Za-z0-9._/-]{1,255}(?<!/)$",
                "x-allowed": "a git branch name, e.g. main (not refs/heads/main)",
                "description": "Branch whose pushes start the pipeline; pushes to other branches start nothing.",
            },
            "connectionArn": {
                "type": "string",
                "pattern": CONNECTION_ARN,
                "x-allowed": "a CodeConnections (or CodeStar Connections) connection ARN",
                "description": "Existing GitHub connection to reuse. When absent the program creates one, "
                "which stays PENDING until its GitHub handshake is completed in the console.",
            },
            "filePaths": {
                "type": "object",
                "additionalProperties": False,
                "default": {},
                "description": "Only pushes that touch these paths start the pipeline (V2 trigger filter): "
                "`{includes: [globs], excludes: [globs]}`. For monorepos, e.g. `services/api/**`.",
                "properties": {
                    "includes": {**GLOBS, "description": "Globs of paths that start the pipeline."},
                    "excludes": {**GLOBS, "description": "Globs of paths that never start it."},
                },
            },
            "tags": {
                **GLOBS,
                "description": "Git tag globs whose push also starts the pipeline (e.g. `v*`).",
            },
            "pullRequests": {
                "type": "boolean",
                "default": False,
                "description": "Also run on pull requests opened or updated against the branch. They deploy "
                "unmerged code, so this is refused in prod.",
            },
            "fullClone": {
                "type": "boolean",
                "default": False,
                "description": "Hand the build a full git clone (`CODEBUILD_CLONE_REF`) instead of a zip of the "
                "commit (`CODE_ZIP`). Grants the build role `UseConnection` on this connection only.",
            },
        },
    },
    "build": {
        "type": "object",
        "description": "The CodeBuild project that builds and pushes the image.",
        "additionalProperties": False,
        "default": {},
        "properties": {
            "repositoryName": {
                "type": "string",
                "pattern": r"^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$",
                "maxLength": 256,
                "x-allowed": "an ECR repository name (lowercase letters, digits, . _ - /)",
                "description": "ECR repository created for the service image. "
                "Defaults to `<service.name>-<environment>`, lowercased.",
            },
            "existingRepository": {
                "type": "string",
                "pattern": r"^(?:arn:aws[a-z-]*:ecr:[a-z0-9-]+:\d{12}:repository/)?"
                r"[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$",
                "maxLength": 256,
                "x-allowed": "the name or ARN of an ECR repository in this account and region",
                "description": "Push to this existing ECR repository instead of creating one: nothing is "
                "created for it, the build may push only to it, and its lifecycle policy is left alone unless "
                "`keepImages` is set. It must have immutable tags and scan on push.",
            },
            "computeType": {
                "enum": COMPUTE_TYPES,
                "default": "BUILD_GENERAL1_SMALL",
                "description": "CodeBuild compute type for the image build.",
            },
            "image": {
                "type": "string",
                "default": "aws/codebuild/amazonlinux-x86_64-standard:5.0",
                "pattern": r"^[a-z0-9][a-z0-9._/:@-]*$",
                "x-allowed": "a CodeBuild-managed image name or an image URI",
                "description": "CodeBuild build image.",
            },
            "timeoutMinutes": {
                "type": "integer",
                "minimum": 5,
                "maximum": 2160,
                "default": 20,
                "description": "Build timeout in minutes (CodeBuild allows 5-2160).",
            },
            "dockerfile": {
                "type": "string",
                "default": "Dockerfile",
                "pattern": r"^(?!/)(?!.*\.\./)[A-Za-z0-9._/-]+$",
                "x-allowed": "a relative path inside the repository",
                "description": "Dockerfile path, relative to the repository root.",
            },
            "context": {
                "type": "string",
                "default": ".",
                "pattern": r"^(?!/)(?!.*\.\.)[A-Za-z0-9._/-]+$",
                "x-allowed": "a relative path inside the repository",
                "description": "Docker build context, relative to the repository root.",
            },
            "environment": plain_variables(
                "Plain build environment variables. Names or values that look like secrets are "
                "rejected: put those under `secrets`."
            ),
            "secrets": secret_references(
                "Secret build variables: name -> Secrets Manager secret ARN or SSM parameter name. "
                "Passed as SECRETS_MANAGER / PARAMETER_STORE variables; the build role may read exactly these."
            ),
            "logRetentionDays": {
                "enum": LOG_RETENTION_DAYS,
                "default": 30,
                "description": "Retention of the build's CloudWatch log group, in days.",
            },
            "dockerHubCredentialsArn": {
                "type": "string",
                "pattern": r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:"
                r"ecr-pullthroughcache/[A-Za-z0-9/_+=.@-]+$",
                "x-allowed": "a Secrets Manager secret ARN whose name starts with ecr-pullthroughcache/",
                "description": "Docker Hub credentials for an ECR pull-through cache: base images come from ECR, "
                "past Docker Hub's rate limits. The build rewrites Docker Hub `FROM` lines to the cache.",
            },
            "testCommands": {
                "type": "array",
                "default": [],
                "items": {"type": "string", "minLength": 1},
                "description": "Shell commands run before the deploy, in their own CodeBuild project and role, in "
                "parallel with the image build. No test action when empty.",
            },
            "failOnSeverity": {
                "enum": SEVERITIES,
                "default": "CRITICAL",
                "description": "Image scan gate: the build fails when ECR's scan of the pushed image reports a "
                "finding at or above this severity.",
            },
            "keepImages": {
                "type": "integer",
                "minimum": 1,
                "maximum": 1000,
                "description": "ECR lifecycle rule: how many images to keep (untagged images expire after a day). "
                "Default 50 for a created repository; an existing repository's lifecycle policy is replaced "
                "only when this is set.",
            },
        },
    },
    "service": {
        "type": "object",
        "description": "The ECS service the pipeline deploys to, and the container contract (name, port) "
        "shared by the task definition, the build's image definitions and the blue/green templates.",
        "additionalProperties": False,
        "required": ["cluster", "name", "container"],
        "properties": {
            "create": {
                "type": "boolean",
                "default": False,
                "description": "Create the service (VPC, load balancer, cluster, task definition, service) instead "
                "of deploying to an existing one.",
            },
            "cluster": {
                "type": "string",
                "pattern": r"^[A-Za-z0-9_-]{1,255}$",
                "x-allowed": "an ECS cluster name (letters, digits, hyphens, underscores)",
                "description": "Name of the ECS cluster: the existing service's, or the one a created service runs "
                "in (created with it, unless `existingCluster`).",
            },
            "existingCluster": {
                "type": "boolean",
                "default": False,
                "description": "A created service joins the existing cluster `cluster` instead of creating one "
                "(its capacity providers must include FARGATE).",
            },
            "name": {
                "type": "string",
                "pattern": r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$",
                "x-allowed": "an ECS service name (letters, digits, hyphens, underscores)",
                "description": "Name of the existing ECS service the pipeline deploys to.",
            },
            "container": {
                "type": "string",
                "pattern": r"^[A-Za-z0-9][A-Za-z0-9_-]{0,254}$",
                "x-allowed": "a container name (letters, digits, hyphens, underscores)",
                "description": "Container in the service's task definition that runs the built image: the one "
                "name the build's image definitions and the deploy use.",
            },
            "port": {
                "type": "integer",
                "minimum": 1,
                "maximum": 65535,
                "default": 8080,
                "description": "Port the container listens on (created services and blue/green).",
            },
            "cpu": {"enum": FARGATE_CPU, "default": 256, "description": "Fargate task CPU units (created services)."},
            "memory": {
                "type": "integer",
                "minimum": 512,
                "maximum": 30720,
                "default": 512,
                "description": "Fargate task memory in MiB (created services); must suit the CPU size.",
            },
            "desiredCount": {
                "type": "integer",
                "minimum": 1,
                "maximum": 100,
                "default": 2,
                "description": "Tasks to run (created services).",
            },
            "bootstrapImage": {
                "type": "string",
                "default": BOOTSTRAP_IMAGE,
                "pattern": r"^[a-z0-9][a-z0-9._/:@-]*$",
                "x-allowed": "an image reference",
                "description": "Image a created service runs until the pipeline's first deploy.",
            },
            "environment": plain_variables(
                "Plain container environment variables (created services); ECS drops empty values, so none may be.",
                non_empty=True,
            ),
            "secrets": secret_references(
                "Container secrets (created services): the execution role may read exactly these."
            ),
            "healthCheckPath": {
                "type": "string",
                "default": "/health",
                "pattern": r"^/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$",
                "maxLength": 1024,
                "x-allowed": "a URL path starting with '/'",
                "description": "Load balancer health check path, also called by the post-deploy check.",
            },
            "healthCheckIntervalSeconds": {
                "type": "integer",
                "minimum": 5,
                "maximum": 300,
                "default": 10,
                "description": "Seconds between load balancer health checks (AWS default 30).",
            },
            "healthyThreshold": {
                "type": "integer",
                "minimum": 2,
                "maximum": 10,
                "default": 2,
                "description": "Consecutive passes before a task takes traffic (AWS default 5).",
            },
            "unhealthyThreshold": {
                "type": "integer",
                "minimum": 2,
                "maximum": 10,
                "default": 3,
                "description": "Consecutive failures before a task is taken out (AWS default 2).",
            },
            "deregistrationDelaySeconds": {
                "type": "integer",
                "minimum": 0,
                "maximum": 3600,
                "default": 30,
                "description": "Connection draining before an old task stops (AWS default 300).",
            },
            "certificateArn": {
                "type": "string",
                "pattern": r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/[0-9a-f-]+$",
                "x-allowed": "an ACM certificate ARN",
                "description": "ACM certificate for the HTTPS listener of a created service. Required with "
                "`create: true` unless `insecure.allowHttp` is set.",
            },
            "domainName": {
                "type": "string",
                "maxLength": 253,
                "pattern": r"^(?=.{1,253}$)((?!-)[a-z0-9-]{1,63}(?<!-)\.)+[a-z]{2,63}$",
                "x-allowed": "a lowercase DNS name the certificate covers, e.g. orders.example.com",
                "description": "The created service's DNS name, which `certificateArn` must cover: the post-deploy "
                "check calls `https://<domainName><healthCheckPath>`. No certificate can cover the load "
                "balancer's own `elb.amazonaws.com` name, so with a certificate this (or "
                "`deploy.healthCheckUrl`) is required.",
            },
            "hostedZoneId": {
                "type": "string",
                "pattern": r"^Z[A-Z0-9]{1,31}$",
                "x-allowed": "a Route 53 hosted zone ID, e.g. Z0123456789ABCDEFGHIJ",
                "description": "Route 53 hosted zone of `domainName`: an alias record points the name at the load "
                "balancer. Without it, point the name at the exported load balancer DNS name yourself.",
            },
            "availabilityZones": {
                "type": "integer",
                "minimum": 2,
                "maximum": 3,
                "default": 2,
                "description": "Availability zones of the created VPC.",
            },
            "natGateways": {
                "enum": ["Single", "OnePerAz"],
                "default": "Single",
                "description": "NAT strategy of the created VPC: one shared gateway (cheaper) or one per zone.",
            },
            "rollbackOnAlarm": {
                "type": "boolean",
                "default": True,
                "description": "Create a 5xx alarm on the target group and roll a deployment back when it fires.",
            },
            "autoscaling": {
                "type": "object",
                "additionalProperties": False,
                "required": ["min", "max"],
                "properties": {
                    "min": {"type": "integer", "minimum": 1, "maximum": 100, "description": "Fewest tasks."},
                    "max": {"type": "integer", "minimum": 1, "maximum": 500, "description": "Most tasks."},
                    "targetCpuPercent": {
                        "type": "integer",
                        "minimum": 10,
                        "maximum": 90,
                        "default": 60,
                        "description": "Average CPU the target-tracking policy keeps.",
                    },
                },
                "description": "Target-tracking autoscaling of a created service (off when absent).",
            },
        },
    },
    "deploy": {
        "type": "object",
        "description": "How the new image reaches the service.",
        "additionalProperties": False,
        "default": {},
        "properties": {
            "strategy": {
                "enum": STRATEGIES,
                "default": "rolling",
                "description": "`rolling`: ECS replaces tasks in place. On a service this program creates, "
                "`blue-green`, `canary` and `linear` are ECS's own deployments: a second set of tasks behind a "
                "second target group, checked through the test listener before production traffic moves "
                "(all at once, a canary share first, or in equal steps), the old tasks kept for "
                "`bakeTimeMinutes`. On an existing service it says how the service deploys, and `pulumi up` checks "
                "it against the service: `rolling`, `blue-green`, `canary` or `linear` on the ECS controller (its "
                "own traffic settings, which `deploy.timeoutMinutes` must cover), or `blue-green` with `blueGreen` "
                "naming its CodeDeploy group on the CODE_DEPLOY controller.",
            },
            "bakeTimeMinutes": {
                "type": "integer",
                "minimum": 0,
                "maximum": 1440,
                "default": 5,
                "description": "Strategies `blue-green`, `canary`, `linear` on a created service: minutes the old "
                "tasks keep running after all traffic moved, so a rollback is instant.",
            },
            "canary": {
                "type": "object",
                "additionalProperties": False,
                "default": {},
                "description": "Strategy `canary` on a created service.",
                "properties": {
                    "percent": {
                        "type": "number",
                        "minimum": 0.1,
                        "maximum": 100,
                        "default": 10,
                        "description": "Share of production traffic the new tasks take first.",
                    },
                    "bakeTimeMinutes": {
                        "type": "integer",
                        "minimum": 0,
                        "maximum": 1440,
                        "default": 5,
                        "description": "Minutes at that share before all traffic moves.",
                    },
                },
            },
            "linear": {
                "type": "object",
                "additionalProperties": False,
                "default": {},
                "description": "Strategy `linear` on a created service.",
                "properties": {
                    "stepPercent": {
                        "type": "number",
                        "minimum": 3,
                        "maximum": 100,
                        "default": 10,
                        "description": "Share of production traffic moved at each step.",
                    },
                    "stepBakeTimeMinutes": {
                        "type": "integer",
                        "minimum": 0,
                        "maximum": 1440,
                        "default": 1,
                        "description": "Minutes between steps.",
                    },
                },
            },
            "blueGreen": {
                "type": "object",
                "additionalProperties": False,
                "default": {},
                "description": "Strategy `blue-green` on an existing service deployed by CodeDeploy (the CODE_DEPLOY "
                "deployment controller): its application and deployment group, both or neither (neither: ECS "
                "deploys the service blue/green itself). How traffic shifts and how long the old tasks stay are the "
                "group's own settings, made where the group is managed.",
                "properties": {
                    "application": {
                        "type": "string",
                        "pattern": r"^[A-Za-z0-9._+-]{1,100}$",
                        "x-allowed": "a CodeDeploy application name",
                        "description": "Existing CodeDeploy application (existing services on blue/green).",
                    },
                    "deploymentGroup": {
                        "type": "string",
                        "pattern": r"^[A-Za-z0-9._+-]{1,100}$",
                        "x-allowed": "a CodeDeploy deployment group name",
                        "description": "Existing CodeDeploy deployment group (existing services on blue/green).",
                    },
                },
            },
            "healthCheckUrl": {
                "type": "string",
                "pattern": r"^https?://[^\s]+$",
                "x-allowed": "an http(s) URL",
                "description": "URL the post-deploy check calls. Defaults to the created load balancer's health "
                "check path; without either there is no check stage.",
            },
            "checkCommands": {
                "type": "array",
                "default": [],
                "items": {"type": "string", "minLength": 1},
                "description": "Extra shell commands the post-deploy check runs after the health URL passes "
                "(`$SERVICE_URL` is set).",
            },
            "checkTimeoutSeconds": {
                "type": "integer",
                "minimum": 10,
                "maximum": 1800,
                "default": 120,
                "description": "How long the post-deploy check waits for the expected status.",
            },
            "rollbackOnFailure": {
                "type": "boolean",
                "description": "Roll the deploy stage back (CodePipeline V2) when the deploy or its check fails. "
                "Defaults to true, except with `pipeline.executionMode: PARALLEL`, where AWS offers no stage "
                "rollback (and setting it true is an error).",
            },
            "timeoutMinutes": {
                "type": "integer",
                "minimum": 1,
                "maximum": 60,
                "default": 20,
                "description": "ECS deploy action timeout in minutes (1-60). Shorter than AWS's 60 so a "
                "deploy that already rolled back does not hold the pipeline for an hour. Not with CodeDeploy "
                "(an existing service on `blue-green`), whose deployment group decides.",
            },
            "requireApproval": {
                "type": "boolean",
                "description": "Add a manual approval stage before the deploy. Defaults to true when the "
                "environment is `prod` and false elsewhere; turning it off in prod also needs "
                "`insecure.allowUnapprovedProdDeploys`.",
            },
            "approvalEmails": {
                "type": "array",
                "default": [],
                "items": {"type": "string", "pattern": r"^[^@\s]+@[^@\s]+\.[^@\s]+$", "x-allowed": "an email address"},
                "uniqueItems": True,
                "description": "Addresses subscribed to the approval topic (each must confirm the subscription).",
            },
        },
    },
    "pipeline": {
        "type": "object",
        "description": "The CodePipeline V2 itself.",
        "additionalProperties": False,
        "default": {},
        "properties": {
            "name": {
                "type": "string",
                "pattern": r"^[A-Za-z0-9.@_-]{1,100}$",
                "x-allowed": "a CodePipeline name (letters, digits, . @ _ -, at most 100)",
                "description": "Pipeline name. Defaults to `<service.name>-<environment>`.",
            },
            "executionMode": {
                "enum": EXECUTION_MODES,
                "description": "How the V2 pipeline handles overlapping executions. Defaults to QUEUED in prod "
                "(every release runs) and SUPERSEDED elsewhere (only the newest commit matters).",
            },
            "artifactExpirationDays": {
                "type": "integer",
                "minimum": 1,
                "maximum": 3650,
                "default": 30,
                "description": "Days after which pipeline artifacts (and their old versions) are deleted.",
            },
        },
    },
}


KEYS["iam"] = {
    "type": "object",
    "additionalProperties": False,
    "default": {},
    "description": "IAM settings applied to every role the program creates.",
    "properties": {
        "permissionsBoundaryArn": {
            "type": "string",
            "pattern": r"^arn:aws[a-z-]*:iam::[0-9]{12}:policy/[A-Za-z0-9+=,.@_/-]+$",
            "x-allowed": "an IAM managed policy ARN",
            "description": "Permissions boundary attached to every role (pipeline, build, scans, deploy).",
        },
        "operatorRoleArns": {
            "type": "array",
            "default": [],
            "uniqueItems": True,
            "maxItems": 10,
            "items": {
                "type": "string",
                "pattern": r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]+$",
                "x-allowed": "an IAM role ARN",
            },
            "description": "Roles that may operate the pipelines besides the one running `pulumi up`: start, "
            "stop or retry an execution, approve a deploy. The exported SCP denies these to every other "
            "principal, and the alerts report them.",
        },
    },
}
KEYS["notifications"] = {
    "type": "object",
    "additionalProperties": False,
    "default": {},
    "description": "Security and failure notifications (EventBridge -> KMS-encrypted SNS topic).",
    "properties": {
        "emails": {
            "type": "array",
            "default": [],
            "uniqueItems": True,
            "items": {"type": "string", "pattern": r"^[^@\s]+@[^@\s]+\.[^@\s]+$", "x-allowed": "an email address"},
            "description": "Addresses subscribed to the notification topic (each must confirm).",
        },
    },
}
KEYS["guardrails"] = {
    "type": "object",
    "additionalProperties": False,
    "default": {},
    "description": "Account-wide safeguards from the seed's AWS practices. Opt-in: each is a singleton per "
    "account or region, so enable each in one stack only.",
    "properties": {
        "cloudTrail": {
            "type": "boolean",
            "default": False,
            "description": "Create a multi-region CloudTrail trail (KMS-encrypted, validated log files). Needed "
            "for the API-call alerts when the account has no trail.",
        },
        "guardDuty": {
            "type": "boolean",
            "default": False,
            "description": "Enable a GuardDuty detector. A region has at most one: where one exists, "
            "CreateDetector fails, so import it instead (`pulumi import aws:guardduty/detector:Detector "
            "<stack>-guardrails-guardduty <detector id>`, the id from `aws guardduty list-detectors`).",
        },
        "configRules": {
            "type": "boolean",
            "default": False,
            "description": "AWS Config managed rules for CodeBuild (no AWS credentials in env vars, source "
            "repo URL without tokens, logging on, artifacts encrypted). Needs a Config recorder in the region.",
        },
    },
}
KEYS["insecure"] = {
    "type": "object",
    "additionalProperties": False,
    "default": {},
    "description": "Explicit opt-outs of secure defaults. Each one set is named in `make plan` output.",
    "properties": {
        "allowUnapprovedProdDeploys": {
            "type": "boolean",
            "default": False,
            "description": "Allow `deploy.requireApproval: false` in the prod environment.",
        },
        "allowHttp": {
            "type": "boolean",
            "default": False,
            "description": "Let a created service's load balancer serve plain HTTP without a certificate.",
        },
        "skipSecurityScans": {
            "type": "boolean",
            "default": False,
            "description": "Leave out the dependency, code and secret scans that run beside the image build.",
        },
    },
}


PER_SERVICE_KEYS = ("source", "build", "service", "deploy", "pipeline")

_ROLE = f"^{ROLE_ARN}$"
KEYS["promotion"] = {
    "type": "object",
    "additionalProperties": False,
    "default": {},
    "description": "Cross-account delivery: after the stack's own deploy (or, with `deployHere: false`, right "
    "after the build), the same built digest is deployed to each target in order, each as its account's deploy "
    "role (`TargetAccountAccess` there), in its account's region. One service per stack.",
    "properties": {
        "deployHere": {
            "type": "boolean",
            "default": True,
            "description": "Deploy the stack's own service (`service`) before the targets. false: this account only "
            "builds and scans (a tooling account), the first target's deploy is the first; `service.cluster` and "
            "`service.name` are then the targets' defaults, and the keys of the stack's own deploy are refused.",
        },
        "targets": {
            "type": "array",
            "default": [],
            "maxItems": 5,
            "description": "The environments to promote to, in order: each a stage `Deploy-<name>`, behind an "
            "approval unless `requireApproval` is false, checked after its deploy when `checkRoleArn` is given.",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name", "account", "deployRoleArn", "executionRoleArns"],
                "properties": {
                    "name": {
                        "type": "string",
                        "pattern": r"^[a-z][a-z0-9-]{0,19}$",
                        "x-allowed": "lowercase letters, digits and hyphens, starting with a letter, at most 20",
                        "description": "The environment's name (its stage is `Deploy-<name>`).",
                    },
                    "account": {
                        "type": "string",
                        "pattern": r"^[0-9]{12}$",
                        "x-allowed": "a 12-digit AWS account ID",
                        "description": "The target account.",
                    },
                    "region": {
                        "type": "string",
                        "pattern": f"^{REGION}$",
                        # An artifact store's region: 4 to 30 characters (AWS::CodePipeline::Pipeline
                        # ArtifactStoreMap, "Region", https://docs.aws.amazon.com/AWSCloudFormation/latest/
                        # UserGuide/aws-properties-codepipeline-pipeline-artifactstoremap.html).
                        "maxLength": 30,
                        "x-allowed": "an AWS region, e.g. eu-central-1",
                        "description": "The target service's region. Default: the stack's (`aws:region`). Another "
                        "region gets an artifact store of its own in this account (CodePipeline runs a "
                        "cross-region action from a store in the action's region), and its service pulls the "
                        "image from this region's repository.",
                    },
                    "cluster": {
                        "type": "string",
                        "pattern": r"^[A-Za-z0-9_-]{1,255}$",
                        "x-allowed": "an ECS cluster name",
                        "description": "ECS cluster of the target service. Default: `service.cluster`.",
                    },
                    "service": {
                        "type": "string",
                        "pattern": r"^[A-Za-z0-9_-]{1,255}$",
                        "x-allowed": "an ECS service name",
                        "description": "The target service, on the ECS deployment controller (rolling, or ECS "
                        "blue/green, canary, linear: the promotion deploys with CodePipeline's ECS action). "
                        "Default: `service.name`.",
                    },
                    "deployRoleArn": {
                        "type": "string",
                        "pattern": _ROLE,
                        "x-allowed": "an IAM role ARN in the target account",
                        "description": "The deploy role `TargetAccountAccess` made there (its `role_arn`).",
                    },
                    "executionRoleArns": {
                        "type": "array",
                        "minItems": 1,
                        "maxItems": 10,
                        "uniqueItems": True,
                        "items": {"type": "string", "pattern": _ROLE, "x-allowed": "an IAM role ARN"},
                        "description": "Task execution roles there that pull the image from this account.",
                    },
                    "requireApproval": {
                        "type": "boolean",
                        "default": True,
                        "description": "A person approves before this target's deploy.",
                    },
                    "checkRoleArn": {
                        "type": "string",
                        "pattern": _ROLE,
                        "x-allowed": "an IAM role ARN in the target account",
                        "description": "The check role `TargetAccountAccess` made there (`check_role_arn`): after "
                        "the deploy, the service is checked to run the built digest, read as that role.",
                    },
                },
            },
        },
    },
}
KEYS["services"] = {
    "type": "array",
    "minItems": 1,
    "maxItems": 100,
    "description": "Several services in one stack (a monorepo): one pipeline each, one artifact store for "
    "all. Each entry has a `name` and optional `source`, `build`, `service`, `deploy` and `pipeline` objects "
    "whose fields override the top-level keys of the same name. Without it, the top-level keys describe "
    "the one service.",
    "items": {
        "type": "object",
        "additionalProperties": False,
        "required": ["name"],
        "properties": {
            "name": {
                "type": "string",
                "pattern": r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$",
                "x-allowed": "an ECS service name (letters, digits, hyphens, underscores)",
                "description": "The service's name (its ECS service name unless `service.name` says otherwise).",
            },
            **{
                key: {"type": "object", "description": f"Overrides of `{NAMESPACE}:{key}`."} for key in PER_SERVICE_KEYS
            },
        },
    },
}


def schema_for(key: str) -> dict:
    """The JSON schema of one top-level key, ready for a validator."""
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **KEYS[key]}


def _whole_number(_checker: object, instance: object) -> bool:
    """JSON Schema counts 15.0 as an integer; the program would then fail on it (a range, a name).
    An integer is written as one: `timeoutMinutes: 15`."""
    return isinstance(instance, int) and not isinstance(instance, bool)


Validator = jsonschema.validators.extend(
    jsonschema.Draft202012Validator,
    type_checker=jsonschema.Draft202012Validator.TYPE_CHECKER.redefine("integer", _whole_number),
)
"""The validator of every config key (and of the library's arguments, `components/args.py`)."""
