"""docs/webhooks.md stays true: its helper is verify.py, its catalogue is the catalogue."""

import json
import re
from pathlib import Path

from webhooks.catalogue import EVENT_TYPES

REPO = Path(__file__).resolve().parents[2]
DOC = (REPO / "docs" / "webhooks.md").read_text()


def test_the_documented_helper_is_verify_py():
    verify = (REPO / "webhooks" / "verify.py").read_text().rstrip()
    assert f"```python\n{verify}\n```" in DOC


def test_every_event_has_an_example_payload_in_the_envelope():
    for event_type in EVENT_TYPES:
        section = DOC.split(f"### `{event_type}`", 1)[1]
        example = json.loads(re.search(r"```json\n(.*?)\n```", section, re.S).group(1))
        assert example["eventType"] == event_type
        assert set(example) == {
            "eventId", "eventType", "occurredAt", "sessionId", "submissionId", "workflow",
            "state", "submissionStatus", "companyId", "result", "failedReason",
            "clientSubmissionId", "metadata",
        }  # fmt: skip
