"""Security scans (CICD-SEC-3, CICD-SEC-6): dependency audit, static analysis and secret scan,
each a CodeBuild action beside the image build, each failing the pipeline on findings.

Each scan has its own project and role: it reads the source artifact and writes its logs, and
nothing else, so a compromised scanner can neither push an image nor deploy (CICD-SEC-5).
"""

from collections.abc import Mapping, Sequence
from typing import Optional, Required, TypedDict

import pulumi
import pulumi_aws as aws

from .account import AwsAccount
from .args import documented, known_keys
from .artifacts import ArtifactStore
from .codebuild import codebuild_project, pass_fail_action, run_project_statement
from .iam import ScopedRole
from .source import GitHubSource
from .stage import StageDefinition

# action name -> (project suffix, embedded buildspec, what it looks for)
SCANS: dict[str, tuple[str, str, str]] = {
    "Dependencies": ("sca", "scan-dependencies", "known vulnerabilities in dependencies (osv-scanner)"),
    "Code": ("sast", "scan-code", "insecure code patterns (semgrep)"),
    "Secrets": ("secrets", "scan-secrets", "committed credentials (gitleaks)"),
}


class SecurityScansArgs(TypedDict, total=False):
    source: Required[GitHubSource]
    """The Source stage whose artifact is scanned. Required."""
    artifact_store: Required[ArtifactStore]
    """Where the pipeline keeps artifacts. Required."""
    log_retention_days: int
    """Scan log retention. Default 30."""
    permissions_boundary: Optional[str]
    """Permissions boundary ARN for the scan roles."""
    role_path: str
    """IAM path of the roles created here (`iam.RolePaths`). Default `/`."""
    pipelines: Sequence[str]
    """Names of the pipelines whose artifacts this reads (and writes): its role is scoped to
    their folders of the artifact bucket. Default: the whole bucket."""
    tags: Mapping[str, str]
    """Tags for every resource."""
    account: AwsAccount
    """Account context; looked up when omitted."""


@documented(SecurityScansArgs)
class SecurityScans(pulumi.ComponentResource):
    """Three unprivileged scan projects; `stage` holds their actions, to run in parallel."""

    projects: dict[str, aws.codebuild.Project]
    stage: StageDefinition
    roles: dict[str, ScopedRole]

    def __init__(self, name: str, args: SecurityScansArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("cicd:index:SecurityScans", name, None, opts)
        known_keys("SecurityScans", name, args, SecurityScansArgs)
        for required in ("source", "artifact_store"):
            if required not in args:
                raise ValueError(f"SecurityScans {name}: {required} is required")
        source: GitHubSource = args["source"]
        account = args.get("account") or AwsAccount.current()
        self.projects = {}
        self.roles = {}
        arns, actions, project_names = [], [], []
        for action_name, (suffix, buildspec, looks_for) in SCANS.items():
            scan = codebuild_project(
                f"{name}-{suffix}",
                parent=self,
                buildspec=buildspec,
                description=f"Fails the pipeline on {looks_for} in {source.repository}",
                store=args["artifact_store"],
                account=account,
                writes_artifacts=False,
                statements=source.reader_statements("FullCloneUseConnection"),
                privileged=False,
                log_retention_days=args.get("log_retention_days", 30),
                permissions_boundary=args.get("permissions_boundary"),
                role_path=args.get("role_path", "/"),
                pipelines=args.get("pipelines"),
                tags=args.get("tags", {}),
            )
            self.projects[action_name] = scan.project
            self.roles[action_name] = scan.role
            arns.append(scan.arn)
            project_names.append(scan.name)
            actions.append(pass_fail_action(action_name, source.output_artifact, scan))
        self.stage = StageDefinition(
            name="Scan",
            actions=actions,
            pipeline_role_statements=[run_project_statement("RunScanProjects", arns)],
            roles=list(self.roles.values()),
            project_names=project_names,
        )
        self.register_outputs({})
