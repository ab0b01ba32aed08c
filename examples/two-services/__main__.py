"""Two services, one artifact store, one GitHub connection, a pipeline each and a stage of our own.

Composed differently from the repository's own program, from the same components:

- One `ArtifactStore` (bucket and KMS key) serves both pipelines. Both pipeline roles may read and
  write the whole bucket: give each service a store of its own when their artifacts must be apart.
- The api's `GitHubSource` creates the GitHub connection (one handshake in the console); the
  worker's source reuses it, scoped to its own repository.
- Each `EcsDeploy` is given its service's roles, so nothing is read from the running services.
- After the deploy, a Verify stage invokes a smoke-test Lambda function. The pipeline never looks
  inside a stage: a stage of your own is a `StageDefinition` with its actions and the statements
  the pipeline role needs to run them, here `lambda:InvokeFunction` on that one function.

    pulumi stack init example   # Pulumi.example.yaml; then pulumi up
"""

import json

import pulumi
import pulumi_aws as aws

from components import ArtifactStore, AwsAccount, EcsDeploy, GitHubSource, ImageBuild, Pipeline, StageDefinition
from components.iam import allow

config = pulumi.Config()
services: dict = config.require_object("services")
protect = config.get_bool("protect")
protect = True if protect is None else protect
smoke_test_function = config.require("smokeTestFunction")
account = AwsAccount.current()
tags = {"project": "shop", "stack": pulumi.get_stack()}

store = ArtifactStore("shop-artifacts", {"protect": protect, "tags": tags, "account": account})


def smoke_test_stage(service: str) -> StageDefinition:
    """Verify: the smoke-test function checks the service at the deployed commit and reports the
    result to CodePipeline (PutJobSuccessResult / PutJobFailureResult, with its own role)."""
    return StageDefinition(
        name="Verify",
        actions=[
            aws.codepipeline.PipelineStageActionArgs(
                name="SmokeTest",
                category="Invoke",
                owner="AWS",
                provider="Lambda",
                version="1",
                configuration={
                    "FunctionName": smoke_test_function,
                    "UserParameters": json.dumps({"service": service, "commit": "#{SourceVariables.CommitId}"}),
                },
            )
        ],
        pipeline_role_statements=[
            allow(
                "InvokeSmokeTest",
                ["lambda:InvokeFunction"],
                [account.arn("lambda", f"function:{smoke_test_function}")],
            )
        ],
    )


connection_arn = None  # the first source creates the connection, the others reuse it
key_users = []
for name, spec in sorted(services.items()):
    source = GitHubSource(
        f"{name}-source",
        {
            "repository": spec["repository"],
            "branch": spec.get("branch", "main"),
            "connection_arn": connection_arn,
            "connection_name": "shop-github",
            "tags": tags,
        },
    )
    if connection_arn is None:
        connection_arn = source.connection_arn
        if source.handshake_url is not None:
            pulumi.export("connectionHandshakeUrl", source.handshake_url)
    build = ImageBuild(
        f"shop-{name}-build",
        {
            "source": source,
            "artifact_store": store,
            "container_name": spec["container"],
            "repository_name": f"shop/{name}",
            "protect": protect,
            "tags": tags,
            "account": account,
        },
    )
    deploy = EcsDeploy(
        f"{name}-deploy",
        {
            "build": build,
            "cluster": spec["cluster"],
            "service": spec["service"],
            "task_role_arns": [account.arn("iam", f"role/{role}", regional=False) for role in spec["taskRoles"]],
            "task_family": spec["taskFamily"],
            "account": account,
        },
    )
    pipeline = Pipeline(
        f"shop-{name}",
        {
            "stages": [source.stage, build.stage, deploy.stage, smoke_test_stage(spec["service"])],
            "artifact_store": store,
            "triggers": [source.trigger()],
            "execution_mode": "QUEUED",
            "tags": tags,
            "account": account,
        },
    )
    pulumi.export(f"{name}PipelineUrl", pipeline.console_url)
    pulumi.export(f"{name}RepositoryUrl", build.repository.repository_url)
    key_users += [pipeline.role, *pipeline.action_roles.values(), *pipeline.stage_roles()]

# Once every pipeline role exists: only they may use the shared artifact key.
store.limit_key_use(key_users)
pulumi.export("artifactBucket", store.bucket.bucket)
