"""Build once in a tooling account, promote the same image digest through a staging and a
production account (cross-account delivery, issue 15), composed from the components:

    Source -> Build (image | scans) -> Deploy-staging (+ check) -> Approve-prod -> Deploy-prod

- One `ImageBuild` pushes the image to this account's repository and writes imagedefinitions.json
  with its digest; every deploy stage reads that one artifact, so each environment runs the digest
  that was built and scanned (never a rebuild, never a tag).
- Each deploy runs as its target account's deploy role (`TargetAccountAccess` there, by ARN): the
  pipeline role may assume exactly those roles (`EcsDeploy` `deploy_role_arn`).
- What the targets need from this account is derived from them: the artifact bucket and key let
  each deploy role read this pipeline's artifacts (`cross_account_readers`), the repository lets
  each target's execution roles pull (`pull_role_arns`). Remove a target and its grants go.
- After a deploy, a target with a `checkRoleArn` is checked: the service runs the built digest (read
  as that account's check role) and its health URL answers.
- Production waits for a person. Before the first deploy, `ecs-cicd preflight` checks each target.

    pulumi stack init delivery   # Pulumi.delivery.yaml; then pulumi up
"""

import dataclasses

import pulumi

from components import (
    ArtifactStore,
    AwsAccount,
    EcsDeploy,
    GitHubSource,
    ImageBuild,
    ManualApproval,
    Pipeline,
    SecurityScans,
    ServiceCheck,
)
from components.iam import RolePaths

config = pulumi.Config()
targets: list[dict] = config.require_object("targets")
protect = config.get_bool("protect")
protect = True if protect is None else protect
account = AwsAccount.current()
name = "orders-delivery"
roles = RolePaths.for_stack(name)
tags = {"project": "orders", "stack": pulumi.get_stack()}

store = ArtifactStore(
    f"{name}-artifacts",
    {
        "protect": protect,
        "tags": tags,
        "account": account,
        "writer_pattern": roles.arn_pattern(account, roles.pipeline),
        "cross_account_readers": [{"role_arn": t["deployRoleArn"], "pipeline": name} for t in targets],
    },
)
source = GitHubSource(f"{name}-source", {"repository": config.require("repository"), "tags": tags})
build = ImageBuild(
    f"{name}-build",
    {
        "source": source,
        "artifact_store": store,
        "container_name": "app",
        "repository_name": "orders/api",
        "pull_role_arns": [arn for t in targets for arn in t["executionRoles"]],
        "protect": protect,
        "role_path": roles.pipeline,
        "pipelines": [name],
        "tags": tags,
        "account": account,
    },
)
scans = SecurityScans(
    f"{name}-scan",
    {"source": source, "artifact_store": store, "role_path": roles.pipeline, "pipelines": [name], "tags": tags},
)

stages = [source.stage, build.stage.alongside(scans.stage)]
check_roles: dict[str, pulumi.Output[str]] = {}
for target in targets:
    if target.get("approval"):
        approval = ManualApproval(
            f"{name}-approve-{target['name']}",
            {
                "source": source,
                "artifact_store": store,
                "summary": f"Promote image #{{BuildVariables.IMAGE_DIGEST}} to {target['name']} "
                f"(account {target['account']})?",
                "tags": tags,
            },
        )
        stages.append(dataclasses.replace(approval.stage, name=f"Approve-{target['name']}"))
    deploy = EcsDeploy(
        f"{name}-deploy-{target['name']}",
        {
            "build": build,
            "cluster": target["cluster"],
            "service": target["service"],
            "deploy_role_arn": target["deployRoleArn"],
            "stage_name": f"Deploy-{target['name']}",
        },
    )
    stage = deploy.stage
    if "checkRoleArn" in target:
        check = ServiceCheck(
            f"{name}-check-{target['name']}",
            {
                "artifact_store": store,
                "source": source,
                **({"url": target["healthCheckUrl"]} if "healthCheckUrl" in target else {}),
                "service": {
                    "cluster": target["cluster"],
                    "service": target["service"],
                    "arn": pulumi.Output.concat(
                        "arn:aws:ecs:",
                        account.region,
                        f":{target['account']}:service/{target['cluster']}/",
                        target["service"],
                    ),
                    "container": "app",
                    "image": "#{BuildVariables.IMAGE_URI}",
                },
                "check_role_arn": target["checkRoleArn"],
                "role_path": roles.pipeline,
                "pipelines": [name],
                "tags": tags,
                "account": account,
            },
        )
        stage = stage.followed_by(check.stage)
        check_roles[target["name"]] = check.role_arn
    stages.append(stage)

pipeline = Pipeline(
    name,
    {
        "stages": stages,
        "artifact_store": store,
        "triggers": [source.trigger()],
        "execution_mode": "QUEUED",
        "role_path": roles.pipeline,
        "action_role_path": roles.deploy,
        "tags": tags,
        "account": account,
    },
)
pulumi.export("pipelineRoleArn", pipeline.role.arn)  # what each target's TargetAccountAccess trusts
pulumi.export("artifactBucketArn", store.bucket.arn)
pulumi.export("artifactKeyArn", store.key.arn)
pulumi.export("repositoryUrl", build.repository.repository_url)
pulumi.export("checkRoleArns", check_roles)  # what each checked target's TargetAccountAccess trusts
