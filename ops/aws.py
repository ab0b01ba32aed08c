"""boto3 clients for the CLI, and AWS failures turned into one-line errors a person can act on."""

import functools
import json
import os
from collections.abc import Callable
from typing import Any, Optional

import boto3
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ReadTimeoutError,
    SSOTokenLoadError,
    TokenRetrievalError,
    UnauthorizedSSOTokenError,
)
from botocore.retries import standard

# Standard retries back off on throttling, which a polling `watch` can run into on a busy account.
# Timeouts bound every call: botocore's defaults (60 s to read, 60 s to connect, each retried) let
# a hung endpoint block a command for minutes without a word. The CLI's calls answer in well under
# a second; `retrying (n/m)` is said on stderr for every retry (Aws.client).
MAX_ATTEMPTS = 5
CONNECT_TIMEOUT_SECONDS = 5
READ_TIMEOUT_SECONDS = 20
RETRY_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": MAX_ATTEMPTS},
    connect_timeout=CONNECT_TIMEOUT_SECONDS,
    read_timeout=READ_TIMEOUT_SECONDS,
)

EXPIRED_CODES = {"ExpiredToken", "ExpiredTokenException", "RequestExpired"}
INVALID_CODES = {"UnrecognizedClientException", "InvalidClientTokenId", "InvalidSignatureException"}
DENIED_CODES = {"AccessDeniedException", "AccessDenied"}


class OpsError(Exception):
    """A failure the user can act on: printed as one line, without a traceback."""

    exit_code = 1


class AwsAnswerError(OpsError):
    """AWS could not be reached, refused, or answered with something that is not its API."""

    exit_code = 3


class UsageError(OpsError):
    """The command line asks for something that cannot be done as given."""

    exit_code = 2


class Aws:
    """The clients of one boto3 session, made on first use. Region and credentials come from the usual
    AWS environment; an `AWS_ENDPOINT_URL` is honoured by boto3 itself, so no endpoint is set here."""

    def __init__(
        self,
        region: Optional[str] = None,
        session: Optional[boto3.Session] = None,
        config: Config = RETRY_CONFIG,
    ):
        # boto3 reads AWS_DEFAULT_REGION and the profile; AWS_REGION, which the AWS CLI and the other
        # SDKs honour first, it ignores, so it is passed on here.
        self.session = session or boto3.Session(region_name=region or os.environ.get("AWS_REGION") or None)
        self.config = config
        self._clients: dict[tuple[str, Optional[str]], BaseClient] = {}
        self.on_retry: Callable[[str], None] = lambda _message: None
        """Told of every retry, with what failed (the CLI writes it to stderr)."""

    def elsewhere(self, profile: Optional[str]) -> "Aws":
        """Clients with a named AWS profile's credentials (another account's), or these ones."""
        if profile is None:
            return self
        # The profile's own region, unless the command names one per call.
        other = Aws(session=boto3.Session(profile_name=profile), config=self.config)
        other.on_retry = self.on_retry
        return other

    @property
    def region(self) -> Optional[str]:
        return self.session.region_name

    def client(self, service: str, region: Optional[str] = None) -> BaseClient:
        key = (service, region)
        if key not in self._clients:
            client = self.session.client(service, region_name=region, config=self.config)
            # botocore keeps the total number of attempts (first one included) in `total_max_attempts`.
            total = (client.meta.config.retries or {}).get("total_max_attempts", MAX_ATTEMPTS)
            client.meta.events.register("needs-retry", functools.partial(self._announce_retry, total))
            client.meta.events.register("after-call", _refuse_what_is_not_aws)
            self._clients[key] = client
        return self._clients[key]

    def _announce_retry(
        self, maximum: int, attempts: int, operation: Any, caught_exception=None, response=None, **_
    ) -> None:
        """Say that a call is retried, judged by the very conditions botocore's standard mode retries on."""
        http, parsed = (response or (None, None)) if isinstance(response, tuple) else (None, None)
        context = standard.RetryContext(
            attempt_number=attempts,
            operation_model=operation,
            parsed_response=parsed,
            http_response=http,
            caught_exception=caught_exception,
        )
        if attempts < maximum and standard.StandardRetryConditions(max_attempts=maximum).is_retryable(context):
            if caught_exception is not None:
                reason = " ".join(str(caught_exception).split())
            else:
                error = (parsed or {}).get("Error", {})
                reason = error.get("Code") or f"HTTP {getattr(http, 'status_code', '?')}"
            self.on_retry(f"{operation.name}: {reason}; retrying ({attempts}/{maximum - 1})")

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
        if isinstance(error, (ReadTimeoutError, ConnectTimeoutError)):
            endpoint = error.kwargs.get("endpoint_url")
            return f"AWS at {endpoint} did not answer in time: check the network, --region and AWS_ENDPOINT_URL"
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


def _refuse_what_is_not_aws(http_response: Any, model: Any, **_: Any) -> None:
    """botocore reads a body in the wrong format (a proxy's HTML error page) as an empty answer: a
    pipeline with no stages, a build with no log. Refused: an HTML page whatever the protocol, and
    for JSON protocols anything that is not JSON."""
    if getattr(http_response, "raw", None) is None or not http_response.content:
        return  # a stubbed answer (botocore.stub) or no body at all
    body, kind = http_response.content, http_response.headers.get("content-type", "")
    looks_like_html = body.lstrip()[:100].lower().startswith((b"<!doctype html", b"<html"))
    if not looks_like_html and model.service_model.protocol in ("json", "rest-json"):
        try:
            json.loads(body)
            return
        except ValueError:
            pass
    elif not looks_like_html:
        return
    raise AwsAnswerError(
        f"{model.name}: the answer is not AWS's (HTTP {http_response.status_code}, {kind or 'no content type'}); "
        "check the network, any proxy and AWS_ENDPOINT_URL"
    )
