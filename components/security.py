"""Security scans (CICD-SEC-3, CICD-SEC-6): dependency audit, static analysis and secret scan,
each a CodeBuild action beside the image build, each failing the pipeline on findings.

Each scan has its own project and role: it reads the source artifact and writes its logs, and
nothing else, so a compromised scanner can neither push an image nor deploy (CICD-SEC-5).

One set serves every pipeline of a stack (`sources`): the scans are the same for each, and
CodePipeline hands each run its own pipeline's source artifact. That makes three projects and
three roles per stack instead of per service; each role still only reads (the stack's artifacts,
its repositories through the connection) and writes its logs (SECURITY.md).
"""

from collections.abc import Mapping, Sequence
from typing import Optional, Required, TypedDict

import pulumi
import pulumi_aws as aws

from .account import AwsAccount
from .args import documented, known_keys
from .artifacts import ArtifactStore
from .codebuild import CodeBuildProject, codebuild_project, pass_fail_action, run_project_statement
from .iam import ScopedRole
from .source import GitHubSource, readers_of
from .stage import StageDefinition

# action name -> (project suffix, embedded buildspec, what it looks for)
SCANS: dict[str, tuple[str, str, str]] = {
    "Dependencies": ("sca", "scan-dependencies", "known vulnerabilities in dependencies (osv-scanner)"),
    "Code": ("sast", "scan-code", "insecure code patterns (semgrep)"),
    "Secrets": ("secrets", "scan-secrets", "committed credentials (gitleaks)"),
}


class SecurityScansArgs(TypedDict, total=False):
    source: GitHubSource
    """The Source stage whose artifact is scanned: `source` or `sources` is required."""
    sources: Sequence[GitHubSource]
    """The Source stages of every pipeline the scans serve (one set of projects for a stack)."""
    artifact_store: Required[ArtifactStore]
    """Where the pipeline keeps artifacts. Required."""
    log_retention_days: int
    """Scan log retention. Default 30."""
    permissions_boundary: Optional[str]
    """Permissions boundary ARN for the scan roles."""
    role_path: str
    """IAM path of the roles created here (`iam.RolePaths`). Default `/`."""
    pipelines: Sequence[str]
    """Names of the pipelines whose artifacts this reads: its roles are scoped to their folders of
    the artifact bucket. Default: the whole bucket (every pipeline of the store)."""
    tags: Mapping[str, str]
    """Tags for every resource."""
    account: AwsAccount
    """Account context; looked up when omitted."""


@documented(SecurityScansArgs)
class SecurityScans(pulumi.ComponentResource):
    """Three unprivileged scan projects; `stage` holds their actions, to run in parallel."""

    projects: dict[str, aws.codebuild.Project]
    stage: StageDefinition
    """The Scan stage of the (first) source's pipeline."""
    roles: dict[str, ScopedRole]

    def __init__(self, name: str, args: SecurityScansArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("cicd:index:SecurityScans", name, None, opts)
        known_keys("SecurityScans", name, args, SecurityScansArgs)
        if "artifact_store" not in args:
            raise ValueError(f"SecurityScans {name}: artifact_store is required")
        one, several = args.get("source"), args.get("sources")
        if (one is None) == (several is None) or (several is not None and not several):
            raise ValueError(
                f"SecurityScans {name}: give exactly one of source (one pipeline) and sources (several, at least one)"
            )
        sources: list[GitHubSource] = [one] if one is not None else list(several or ())
        repositories = sorted({source.repository for source in sources})
        scanned = repositories[0] if len(repositories) == 1 else f"the stack's {len(repositories)} repositories"
        account = args.get("account") or AwsAccount.current()
        self.projects = {}
        self.roles = {}
        self._scans: list[tuple[str, CodeBuildProject]] = []
        for action_name, (suffix, buildspec, looks_for) in SCANS.items():
            scan = codebuild_project(
                f"{name}-{suffix}",
                parent=self,
                buildspec=buildspec,
                description=f"Fails the pipeline on {looks_for} in {scanned}",
                store=args["artifact_store"],
                account=account,
                writes_artifacts=False,
                statements=readers_of("FullCloneUseConnection", sources),
                privileged=False,
                log_retention_days=args.get("log_retention_days", 30),
                permissions_boundary=args.get("permissions_boundary"),
                role_path=args.get("role_path", "/"),
                pipelines=args.get("pipelines"),
                tags=args.get("tags", {}),
            )
            self.projects[action_name] = scan.project
            self.roles[action_name] = scan.role
            self._scans.append((action_name, scan))
        self.stage = self.stage_for(sources[0])
        self.register_outputs({})

    def stage_for(self, source: GitHubSource) -> StageDefinition:
        """The Scan stage of the pipeline whose Source stage is `source`."""
        return StageDefinition(
            name="Scan",
            actions=[pass_fail_action(action, source.output_artifact, scan) for action, scan in self._scans],
            pipeline_role_statements=[run_project_statement("RunScanProjects", [scan.arn for _, scan in self._scans])],
            roles=list(self.roles.values()),
            project_names=[scan.name for _, scan in self._scans],
        )
