"""CrossGuard policy pack for the ecs-cicd pipeline (run it with `pulumi preview --policy-pack policy`).

`rules` holds the pure check functions and `registry` the list of policies; both import nothing
from `pulumi_policy`, so tests can use them without starting the pack's gRPC server. Only
`__main__.py`, which the Pulumi CLI runs, builds the `PolicyPack`.
"""
