"""Day-2 operations for the pipelines this project deploys: `ecs-cicd status`, `watch`, `approve`, ...

A thin boto3 client of CodePipeline, CodeBuild, CloudWatch Logs and CodeConnections. It finds a
pipeline by name, or by stack through the program's own settings code, so the names never drift.
"""
