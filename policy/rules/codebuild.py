"""CodeBuild: projects run an embedded buildspec from CodePipeline, encrypt with a customer key,
log to CloudWatch, and only the image build runs privileged."""

import hashlib
import re
from collections.abc import Mapping
from typing import Any

import yaml

from .normalise import UNKNOWN, as_list, aws_managed_key, dig, is_blank

CODEBUILD_PROJECT = "aws:codebuild/project:Project"
CODEBUILD_SOURCE_CREDENTIAL = "aws:codebuild/sourceCredential:SourceCredential"

# The buildspecs allowed to run privileged (root on the build host's Docker daemon), by the
# SHA-256 of their text: ecs-cicd's image build, nothing else. A variable name or tag would be an
# exemption any project can claim; the buildspec is what runs. tests/test_policy.py keeps this in
# step with buildspecs/build-image.yml; an organisation that builds images with a buildspec of its
# own adds that buildspec's digest here, in the pack it reviews.
PRIVILEGED_BUILDSPECS = {
    "30fc7ab6041cb067f0c09c964399f6792cc5b5812f6cfb49be2d007c2fc587b2": "buildspecs/build-image.yml",
}


def check_codebuild_privileged(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    if resource_type != CODEBUILD_PROJECT or dig(props, "environment", "privilegedMode") is not True:
        return []
    buildspec = dig(props, "source", "buildspec")
    if buildspec is UNKNOWN:
        return []
    digest = hashlib.sha256(buildspec.encode()).hexdigest() if isinstance(buildspec, str) else None
    if digest in PRIVILEGED_BUILDSPECS:
        # A project variable takes precedence over the buildspec's own: one of the same name
        # (BUILDKIT_IMAGE, SCAN_WAIT_ATTEMPTS) would change what the approved buildspec does.
        declared = set((dig(yaml.safe_load(buildspec), "env", "variables") or {}).keys())
        variables = dig(props, "environment", "environmentVariables")
        names = {dig(v, "name") for v in ([] if variables is UNKNOWN else as_list(variables))}
        overridden = sorted(n for n in names & declared if isinstance(n, str))
        if overridden:
            return [f"CodeBuild project variables {overridden} override the approved image buildspec's own"]
        return []
    approved = ", ".join(sorted(PRIVILEGED_BUILDSPECS.values()))
    return [
        "CodeBuild project runs in privilegedMode (root on the Docker daemon) with a buildspec that is not an "
        f"approved image build (sha256 {digest or 'none'}; approved: {approved})"
    ]


_BUILDSPEC_PATH = re.compile(r"[\w./@+-]*\.(?:ya?ml|json)|arn:[\w-]+:s3:::\S+", re.IGNORECASE)


def check_codebuild_buildspec(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    if resource_type != CODEBUILD_PROJECT:
        return []
    source = dig(props, "source")
    if source is UNKNOWN:
        return []
    problems = []
    source_type = dig(source, "type")
    if source_type is not UNKNOWN and source_type != "CODEPIPELINE":
        problems.append(f"CodeBuild source.type is {source_type!r}, not 'CODEPIPELINE'")
    buildspec = dig(source, "buildspec")
    if buildspec is UNKNOWN:
        return problems
    if is_blank(buildspec) or not isinstance(buildspec, str):
        problems.append(
            "CodeBuild project has no inline source.buildspec, so it would run buildspec.yml from the "
            "application repository"
        )
    elif _BUILDSPEC_PATH.fullmatch(buildspec.strip()):
        problems.append(
            f"CodeBuild source.buildspec is a file path ({buildspec.strip()!r}) that the application repository "
            "controls; embed the buildspec text instead"
        )
    elif not (re.search(r"(?m)^version\s*:", buildspec) and re.search(r"(?m)^phases\s*:", buildspec)):
        problems.append("CodeBuild source.buildspec is not inline buildspec YAML (no top-level version: and phases:)")
    return problems


def check_codebuild_encrypted_and_logged(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    if resource_type != CODEBUILD_PROJECT:
        return []
    problems = []
    key = dig(props, "encryptionKey")
    if key is not UNKNOWN and is_blank(key):
        problems.append("CodeBuild project sets no encryptionKey (a customer KMS key for its artifacts)")
    elif aws_managed_key(key):
        problems.append(f"CodeBuild encryptionKey is the AWS-managed key {key!r}; name a customer KMS key")
    status = dig(props, "logsConfig", "cloudwatchLogs", "status")
    if status is not UNKNOWN and status != "ENABLED":
        problems.append(f"CodeBuild logsConfig.cloudwatchLogs.status is {status!r}, not 'ENABLED'")
    return problems
