"""Fraud matches' API contract (seed 001): wire schemas, problem codes, docs.

Registered with the core's schema registry on import (FraudConfig.ready imports this
module). `FraudMatchSummary` is also what a submission's detail lists.
"""

from __future__ import annotations

from fraud.models import FraudMatch
from steve.api.schema import (
    DATETIME,
    FREE_OBJECT,
    PAGE_PARAMS,
    STRING,
    choices,
    closed,
    docs,
    listing,
    nullable,
    obj,
    ref,
    register_components,
    register_problems,
    seed_example,
)
from submissions.api.schema import EXPECTED_VERSION, TRANSITION_CODES

# What a match may read as (`withdrawn` is Steve's: the other submission failed or was
# cancelled, never a claim); what a reviewer may resolve one as.
RESOLUTIONS = choices(FraudMatch.Resolution)
REVIEWER_RESOLUTIONS = [str(r) for r in FraudMatch.REVIEWER_RESOLUTIONS]
MATCH_FIELDS = {
    "id": STRING,
    "checkType": STRING,
    "score": nullable({"type": "number"}),
    "similarity": nullable({"type": "number"}),
    "status": {"type": "string", "enum": choices(FraudMatch.Status)},
    "resolution": nullable(ref("FraudResolution")),
    "resolvedBy": nullable(STRING),
    "resolvedAt": nullable(DATETIME),
}
FRAUD_MATCH_SUMMARY = obj(MATCH_FIELDS)
# Seed 001 prints the list's matches without resolvedBy (the detail's have it). Steve
# sends it in both, but the list's schema must accept the seed's own example.
FRAUD_MATCH = obj(
    {
        **MATCH_FIELDS,
        "targetSubmission": nullable(
            obj(
                {
                    "id": STRING,
                    "createdAt": DATETIME,
                    "submissionStatus": {
                        "type": "string",
                        "description": "cancelled or failed: the match was withdrawn",
                    },
                },
                required=["id", "createdAt"],  # the seed's example has no status
            )
        ),
        "details": nullable(FREE_OBJECT),
    },
    required=[*(name for name in MATCH_FIELDS if name != "resolvedBy"), "targetSubmission"],
)
register_components(
    {
        "FraudResolution": {"type": "string", "enum": RESOLUTIONS},
        "FraudMatchSummary": FRAUD_MATCH_SUMMARY,
        "FraudMatch": FRAUD_MATCH,
        "FraudMatchList": listing("FraudMatch"),
    }
)
PROBLEMS: dict[str, tuple[int, str]] = {
    "FRAUD_MATCH_NOT_FOUND": (404, "No such fraud match on this submission."),
    "FRAUD_MATCH_ALREADY_RESOLVED": (409, "The fraud match was already resolved."),
    "FRAUD_MATCH_WITHDRAWN": (
        409,
        "The fraud match was withdrawn: the submission it matched failed or was cancelled.",
    ),
    "INVALID_RESOLUTION": (
        422,
        "resolution is missing (errors[].code required) or is not false_positive or "
        "confirmed_fraud (invalid_choice).",
    ),
}
register_problems(PROBLEMS)

SEED_FRAUD_MATCHES = {
    "data": [
        {
            "id": "jx7fm001submissionFraudMatches",
            "checkType": "visual",
            "score": 72.5,
            "similarity": 0.88,
            "status": "flag",
            "resolution": None,
            "resolvedAt": None,
            "targetSubmission": {
                "id": "jx7sub200submissions",
                "createdAt": "2026-03-25T09:43:20.000Z",
            },
        }
    ],
    "pagination": {"hasMore": False, "nextCursor": None},
}
FRAUD_MATCH_LIST = docs(
    "listFraudMatches",
    tag="fraud",
    summary="A submission's fraud matches",
    response="FraudMatchList",
    parameters=[
        *PAGE_PARAMS,
    ],
    examples=[seed_example("One visual match", SEED_FRAUD_MATCHES)],
    problems={404: ["SUBMISSION_NOT_FOUND"], 400: ["INVALID_CURSOR", "INVALID_LIMIT"]},
)
FRAUD_MATCH_RESOLVE = docs(
    "resolveFraudMatch",
    tag="fraud",
    summary="Resolve one fraud match (bucket: write)",
    response="FraudMatch",
    request=closed(
        obj(
            {
                "resolution": {"type": "string", "enum": REVIEWER_RESOLUTIONS},
                # Shown with the match and, for confirmed_fraud, as the reject reason.
                "reason": {
                    "type": "string",
                    "maxLength": 2000,
                    "nullable": True,
                    "description": "Optional; null is the same as leaving it out (no reason)",
                },
                "expectedVersion": EXPECTED_VERSION,
            },
            required=["resolution"],
        )
    ),
    examples=[seed_example("False positive", {"resolution": "false_positive"}, request=True)],
    problems={
        400: ["INVALID_BODY", "INVALID_JSON", "INVALID_UNICODE", "JSON_TOO_DEEP"],
        422: ["INVALID_RESOLUTION", "VALIDATION_ERROR"],
        404: ["SUBMISSION_NOT_FOUND", "FRAUD_MATCH_NOT_FOUND"],
        409: [
            "FRAUD_MATCH_ALREADY_RESOLVED",
            "FRAUD_MATCH_WITHDRAWN",
            "SUBMISSION_CHANGED",
            *TRANSITION_CODES,
        ],
    },
)
