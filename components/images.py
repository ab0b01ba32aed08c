"""What the buildspecs rely on in the CodeBuild image they run in, and what they fetch.

A buildspec that calls a tool the image lacks, or relies on a runtime the image does not default
to, fails only when the pipeline first runs. The facts are written down here, each with where it
was read, and `tests/test_build_images.py` checks every buildspec against them.
"""

from dataclasses import dataclass

# https://github.com/aws/aws-codebuild-docker-images, al/x86_64/standard/5.0/Dockerfile and
# runtimes.yml at commit 1590e48787084015430500926ea922130dbe9367 (tag 26.03.25). AWS: "If you do
# not specify any runtimes in the buildspec file, CodeBuild chooses the default runtimes that are
# available in the image" (https://docs.aws.amazon.com/codebuild/latest/userguide/available-runtimes.html).
_AL2023_STANDARD_5 = "github.com/aws/aws-codebuild-docker-images al/x86_64/standard/5.0 @1590e48"


@dataclass(frozen=True)
class BuildImage:
    name: str
    default_runtimes: dict[str, str]
    """Runtime -> version used when a buildspec pins none (`runtime-versions`)."""
    tools: frozenset[str]
    """Commands on the image's PATH that the buildspecs call."""
    source: str


STANDARD_5 = BuildImage(
    name="aws/codebuild/amazonlinux-x86_64-standard:5.0",
    default_runtimes={
        # Dockerfile, final stage: `pyenv global $PYTHON_311_VERSION` (3.11.15), `goenv global
        # $GOLANG_20_VERSION` (1.20.14: older than osv-scanner v2 and gitleaks 8.30 build with,
        # and without GOTOOLCHAIN support), `n $NODE_18_VERSION`.
        "python": "3.11",
        "golang": "1.20",
        "nodejs": "18",
    },
    tools=frozenset(
        {
            # base image (amazonlinux:2023): bash, curl, coreutils, sed, grep
            "bash",
            "cat",
            "chmod",
            "cp",
            "curl",
            "echo",
            "env",
            "grep",
            "head",
            "install",
            "mkdir",
            "mktemp",
            "mv",
            "printf",
            "rm",
            "sed",
            "seq",
            "sha256sum",
            "sleep",
            "touch",
            "tr",
            "uname",
            # dnf packages of the Dockerfile (l.29-42): coreutils (ln), findutils, tar, gzip, jq, unzip
            "find",
            "ln",
            "tar",
            "gzip",
            "jq",
            "unzip",
            # git 2.53 from source (l.73-85); docker 28.5.2 static binaries (l.150-158) with the
            # buildx 0.32.1 plugin (l.148, l.178); the AWS CLI v2
            "git",
            "docker",
            "aws",
            # pyenv's Python 3.11 with pip 26.0.1 (l.410-428)
            "python3",
        }
    ),
    source=_AL2023_STANDARD_5,
)

IMAGES = {image.name: image for image in (STANDARD_5,)}

# Every status of an image scan in ECR's API (ScanStatus: botocore ecr service-2.json), and what
# the image build does on each. `aws ecr wait image-scan-complete` accepts only COMPLETE (and
# fails on FAILED), so Inspector's enhanced scanning (ACTIVE) would time out every build.
# https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_ImageScanStatus.html
SCAN_STATUSES = {
    "COMPLETE": "gate",  # basic scanning finished: read the findings
    "ACTIVE": "gate",  # enhanced (continuous) scanning: findings are current
    "PENDING": "wait",
    "IN_PROGRESS": "wait",
    "FAILED": "fail",
    "UNSUPPORTED_IMAGE": "fail",  # cannot be scanned, so cannot be vouched for
    "SCAN_ELIGIBILITY_EXPIRED": "fail",
    "FINDINGS_UNAVAILABLE": "fail",
    "LIMIT_EXCEEDED": "fail",
    "IMAGE_ARCHIVED": "fail",
    "IMAGE_SIZE_EXCEEDED": "fail",
}


@dataclass(frozen=True)
class Download:
    """A tool a buildspec fetches, pinned by version and verified by digest before it runs."""

    buildspec: str
    version: str
    sha256: str
    source: str


# The sums are those the releases publish (osv-scanner_SHA256SUMS, gitleaks_<v>_checksums.txt),
# as recorded by independent public pins (TomHennen/wrangle tools/osv/install.sh;
# cashapp/hermit-packages gitleaks.hcl). The image digests are Docker Hub's multi-platform index
# digests for those tags.
DOWNLOADS = {
    "osv-scanner": Download(
        "scan-dependencies",
        "v2.3.5",
        "bb30c580afe5e757d3e959f4afd08a4795ea505ef84c46962b9a738aa573b41b",
        "https://github.com/google/osv-scanner/releases/tag/v2.3.5",
    ),
    "gitleaks": Download(
        "scan-secrets",
        "8.30.1",
        "551f6fc83ea457d62a0d98237cbad105af8d557003051f41f3e7ca7b3f2470eb",
        "https://github.com/gitleaks/gitleaks/releases/tag/v8.30.1",
    ),
    "buildkit": Download(
        "build-image",
        "v0.31.2",
        "2f5adac4ecd194d9f8c10b7b5d7bceb5186853db1b26e5abd3a657af0b7e26ec",
        "https://hub.docker.com/r/moby/buildkit",
    ),
    # The Dockerfile frontend BuildKit runs (BUILDKIT_SYNTAX): docker/dockerfile 1.7, the index
    # digest the Dockerfile syntax reference's pinned form takes
    # (https://docs.docker.com/reference/dockerfile/#syntax, "docker/dockerfile:1" images on
    # https://hub.docker.com/r/docker/dockerfile), as Renovate and Dependabot pin it in public
    # repositories.
    "dockerfile-frontend": Download(
        "build-image",
        "1.7",
        "a57df69d0ea827fb7266491f2813635de6f17269be881f696fbfdf2d83dda33e",
        "https://hub.docker.com/r/docker/dockerfile",
    ),
}


# What a created service runs until the pipeline's first deploy. It must pass the target group's
# health check on the configured port and path, or the first deployment fails and the service
# serves 503. traefik/whoami listens on $WHOAMI_PORT_NUMBER (app.go: `getEnv("WHOAMI_PORT_NUMBER",
# "80")`) and answers 200 on every path (`mux.Handle("/", ...)`), at github.com/traefik/whoami
# v1.11.0 (7e57190). Pinned by its Docker Hub digest. The port is set through the environment
# because the deploy copies the running revision and swaps only the image: a `command` would be
# copied into the application's first revision too, an environment variable is harmless there.
BOOTSTRAP_IMAGE = (
    "docker.io/traefik/whoami:v1.11.0@sha256:200689790a0a0ea48ca45992e0450bc26ccab5307375b41c84dfc4f2475937ab"
)
BOOTSTRAP_PORT_VARIABLE = "WHOAMI_PORT_NUMBER"
