"""`ecs-cicd start`: run the pipeline now on the branch's latest commit, as a push would."""

from .watch import StartsAnExecution


class Start(StartsAnExecution):
    name = "start"
    help = "start a new execution on the latest commit of the branch"

    def execute(self) -> int:
        response = self.ctx.pipeline.client.start_pipeline_execution(name=self.pipeline_name)
        execution_id = response["pipelineExecutionId"]
        self.terminal.line(f"Started execution {execution_id} of {self.pipeline_name}.")
        return self.follow_or_suggest(execution_id)
