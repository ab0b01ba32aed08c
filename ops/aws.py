"""boto3 clients for the CLI, and AWS failures turned into one-line errors a person can act on."""

import os
from typing import Optional

import boto3
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    SSOTokenLoadError,
    TokenRetrievalError,
    UnauthorizedSSOTokenError,
)

# Standard retries back off on throttling, which a polling `watch` can run into on a busy account.
RETRY_CONFIG = Config(retries={"mode": "standard", "max_attempts": 10})

EXPIRED_CODES = {"ExpiredToken", "ExpiredTokenException", "RequestExpired"}
INVALID_CODES = {"UnrecognizedClientException", "InvalidClientTokenId", "InvalidSignatureException"}
DENIED_CODES = {"AccessDeniedException", "AccessDenied"}


class OpsError(Exception):
    """A failure the user can act on: printed as one line, without a traceback."""

    exit_code = 1


class UsageError(OpsError):
    """The command line asks for something that cannot be done as given."""

    exit_code = 2


class Aws:
    """The clients of one boto3 session, made on first use. Region and credentials come from the usual
    AWS environment; an `AWS_ENDPOINT_URL` is honoured by boto3 itself, so no endpoint is set here."""

    def __init__(self, region: Optional[str] = None, session: Optional[boto3.Session] = None):
        # boto3 reads AWS_DEFAULT_REGION and the profile; AWS_REGION, which the AWS CLI and the other
        # SDKs honour first, it ignores, so it is passed on here.
        self.session = session or boto3.Session(region_name=region or os.environ.get("AWS_REGION") or None)
        self._clients: dict[tuple[str, Optional[str]], BaseClient] = {}

    @property
    def region(self) -> Optional[str]:
        return self.session.region_name

    def client(self, service: str, region: Optional[str] = None) -> BaseClient:
        key = (service, region)
        if key not in self._clients:
            self._clients[key] = self.session.client(service, region_name=region, config=RETRY_CONFIG)
        return self._clients[key]

    def iam_action(self, operation: str) -> str:
        """`codepipeline:GetPipelineState` for `GetPipelineState`: what an IAM policy must allow."""
        for client in self._clients.values():
            model = client.meta.service_model
            if operation in model.operation_names:
                return f"{model.signing_name}:{operation}"
        return operation

    def explain(self, error: Exception, pipeline: Optional[str] = None) -> str:
        """One line saying what went wrong with an AWS call and what to do about it."""
        if isinstance(error, NoCredentialsError):
            return (
                "no AWS credentials found: set AWS_PROFILE (and run `aws sso login`) or "
                "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
            )
        if isinstance(error, (UnauthorizedSSOTokenError, SSOTokenLoadError, TokenRetrievalError)):
            return f"the AWS SSO session has expired or is missing: run `aws sso login` ({error})"
        if isinstance(error, NoRegionError):
            return "no AWS region: pass --region, set AWS_REGION, or use --stack with aws:region in its config"
        if isinstance(error, EndpointConnectionError):
            endpoint = error.kwargs.get("endpoint_url")
            return f"cannot reach AWS at {endpoint}: check the network, --region and AWS_ENDPOINT_URL"
        if isinstance(error, ClientError):
            return self._explain_client_error(error, pipeline)
        return str(error)

    def _explain_client_error(self, error: ClientError, pipeline: Optional[str]) -> str:
        code = error.response.get("Error", {}).get("Code", "")
        message = error.response.get("Error", {}).get("Message", "")
        action = self.iam_action(error.operation_name)
        if code in EXPIRED_CODES:
            return "the AWS credentials have expired: refresh them (for example `aws sso login`) and run again"
        if code in INVALID_CODES:
            return f"AWS rejected the credentials ({code}): check AWS_PROFILE or AWS_ACCESS_KEY_ID"
        if code in DENIED_CODES:
            detail = f" ({message})" if message else ""
            return f"access denied: your AWS identity is not allowed to call {action}{detail}"
        if code == "PipelineNotFoundException":
            return f"no pipeline named {pipeline!r} in {self.region}: check --pipeline or --stack, and --region"
        return f"{action} failed: {code}: {message}"
