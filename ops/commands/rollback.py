"""`ecs-cicd rollback`: put the deploy stage back on the last execution that succeeded before the
current one (CodePipeline V2 stage rollback: the same artifacts, redeployed, no rebuild)."""

from ..aws import UsageError
from .watch import StartsAnExecution


class Rollback(StartsAnExecution):
    name = "rollback"
    help = "roll the deploy stage back to the last successful execution (asks first)"
    asks = True
    watch_help = "follow the rollback until it ends"

    @classmethod
    def add_arguments(cls, parser):
        super().add_arguments(parser)
        parser.add_argument(
            "--stage",
            metavar="NAME",
            help="the deploy stage to roll back (default: the first; a promotion target's is Deploy-<name>)",
        )

    def ask(self) -> None:
        deploy_stages = list(dict.fromkeys(a.stage for a in self.ctx.pipeline.definition() if a.category == "Deploy"))
        wanted = getattr(self.args, "stage", None)
        if wanted is not None and wanted not in deploy_stages:
            raise UsageError(
                f"--stage {wanted!r} is not a deploy stage of {self.pipeline_name}; its deploy stages: "
                f"{', '.join(deploy_stages) or 'none'}"
            )
        self.stage = wanted or self.ctx.pipeline.action_of(category="Deploy").stage
        self.current, self.target = self.ctx.pipeline.rollback_target(self.stage)
        self.confirm(
            f"Roll back stage {self.stage} of {self.pipeline_name} from {self.current.describe()} "
            f"to {self.target.describe()}?"
        )

    def execute(self) -> int:
        response = self.ctx.pipeline.client.rollback_stage(
            pipelineName=self.pipeline_name, stageName=self.stage, targetPipelineExecutionId=self.target.id
        )
        execution_id = response["pipelineExecutionId"]
        self.terminal.line(
            f"Rolling back stage {self.stage} of {self.pipeline_name} to {self.target.describe()} "
            f"in execution {execution_id}."
        )
        return self.follow_or_suggest(execution_id)
