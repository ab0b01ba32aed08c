"""`ecs-cicd connection`: is the GitHub connection usable? A new connection stays PENDING until someone
completes the GitHub handshake in the console, and until then no source can be fetched; so this exits
non-zero unless the connection is AVAILABLE, and works as a preflight before `pulumi up`."""

import re

from ..aws import OpsError, UsageError
from .base import Command

CONNECTION_ARN = re.compile(
    r"^arn:aws[a-z-]*:(codeconnections|codestar-connections):([a-z0-9-]+):\d{12}:connection/[\w-]+$"
)


class Connection(Command):
    name = "connection"
    help = "check the GitHub connection; exit non-zero unless it is AVAILABLE"
    needs_pipeline = False

    @classmethod
    def add_arguments(cls, parser):
        parser.add_argument(
            "--connection-arn",
            help="the connection (codeconnections or codestar-connections ARN); default: from --stack or --pipeline",
        )

    def validate(self) -> None:
        arn = self.args.connection_arn
        if arn and not CONNECTION_ARN.match(arn):
            raise UsageError(f"--connection-arn {arn!r} is not a CodeConnections or CodeStar connection ARN")
        if not arn and not self.ctx.target.pipeline:
            raise UsageError("say which connection: --connection-arn, or --stack / --pipeline for the program's own")

    def execute(self) -> int:
        arn = self._connection_arn()
        service, region = arn.split(":")[2], arn.split(":")[3]
        connection = self.ctx.aws.client(service, region).get_connection(ConnectionArn=arn)["Connection"]
        status = connection["ConnectionStatus"]
        title = f"Connection {connection['ConnectionName']} ({connection.get('ProviderType', 'GitHub')}) is {status}"
        if status == "AVAILABLE":
            self.terminal.line(f"{title}.")
            self.terminal.line(arn)
            return 0
        from components.settings import connection_console_url  # the program's own URL, imported when needed

        url = connection_console_url(arn)
        if status == "PENDING":
            self.terminal.line(f"{title}: nobody has completed the GitHub handshake yet, so no source can be fetched.")
            self.terminal.line(f"Complete it once, as someone allowed to install GitHub apps on {self._owner()}:")
            self.terminal.line(f"  1. Open {url}")
            self.terminal.line('  2. Choose "Update pending connection".')
            self.terminal.line(
                '  3. Install the "AWS Connector for GitHub" app (or pick an existing installation), then "Connect".'
            )
            self.terminal.line("  4. Run this check again: it exits 0 once the connection is AVAILABLE.")
        else:
            self.terminal.line(f"{title}: CodePipeline cannot use it.")
            self.terminal.line(
                "Check that the AWS Connector for GitHub app is still installed and allowed on the repository, "
                f"then update the connection at {url}"
            )
        return 1

    def _connection_arn(self) -> str:
        """--connection-arn, else the stack's configured connection, else the one the program created."""
        settings = self.ctx.target.settings
        if self.args.connection_arn:
            return self.args.connection_arn
        if settings and settings.source.connection_arn:
            return settings.source.connection_arn
        from components.settings import connection_name  # the program's naming, imported only when needed

        return self._find_by_name(connection_name(settings.stack_name if settings else self.ctx.target.pipeline or ""))

    def _find_by_name(self, name: str) -> str:
        client = self.ctx.aws.client("codeconnections")
        request = {"ProviderTypeFilter": "GitHub"}
        while True:
            page = client.list_connections(**request)
            for connection in page.get("Connections", []):
                if connection["ConnectionName"] == name:
                    return connection["ConnectionArn"]
            if not page.get("NextToken"):
                break
            request["NextToken"] = page["NextToken"]
        raise OpsError(
            f"no GitHub connection named {name!r} in {self.ctx.aws.region}: "
            "`pulumi up` creates it, or pass --connection-arn"
        )

    def _owner(self) -> str:
        settings = self.ctx.target.settings
        return f"the {settings.source.owner} GitHub account" if settings else "the repository's GitHub account"
