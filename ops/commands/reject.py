"""`ecs-cicd reject`: turn down the pending manual approval; the execution stops there, failed."""

from .approve import Approve


class Reject(Approve):
    name = "reject"
    help = "reject the pending manual approval with a comment (asks first)"
    verb = "Reject"
    verdict = "Rejected"

    @classmethod
    def add_arguments(cls, parser):
        parser.add_argument("--comment", required=True, help="why, recorded with the rejection")
