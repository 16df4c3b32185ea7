"""A workflow version's upload rules, as the admin checks them before saving."""

from steve.workflow_rules import upload_rules_errors

RULES = {"minFiles": 1, "maxFiles": 2, "acceptedFormats": ["jpeg"]}


def test_a_file_label_longer_than_a_stored_label_is_refused_before_any_session_uses_it():
    # A file's label is stored in 100 characters: a longer fileLabels entry was saved,
    # then every session created on the version was a 500 (value too long).
    assert upload_rules_errors({**RULES, "fileLabels": ["r" * 100, "receipt"]}) == []
    errors = upload_rules_errors({**RULES, "fileLabels": ["r" * 101]})
    assert errors and "fileLabels/0" in errors[0]
