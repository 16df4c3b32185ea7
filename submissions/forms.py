"""Forms of the review UI: the queue's filters and the submission page's actions."""

from typing import Any

from django import forms

from steve.models import Environment
from submissions.models import FraudStatus, SubmissionStatus

ALL = "all"
STATUS_CHOICES = [(ALL, "All statuses"), *SubmissionStatus.choices]
FRAUD_CHOICES = [("", "Any fraud status"), *FraudStatus.choices]
MINE, UNCLAIMED = "mine", "free"
# Queue orders: oldest first by default; the others put what needs a look first.
SORTS = {
    "age": "Oldest first",
    "-age": "Newest first",
    "confidence": "Lowest confidence first",
    "amount": "Largest amount first",
    "fraud": "Highest fraud score first",
}
CLAIM_CHOICES = [("", "Anyone's"), (MINE, "My claims"), (UNCLAIMED, "Unclaimed")]

# The reasons reviewers pick most often; "other" asks for free text.
REJECT_REASONS = [
    "Document is illegible and cannot be verified.",
    "Duplicate of an earlier submission.",
    "Not a receipt or invoice.",
    "Amount or date does not match the claim.",
    "Document appears altered.",
]


class QueueFilterForm(forms.Form):
    status = forms.ChoiceField(choices=STATUS_CHOICES, required=False)
    workflow = forms.ChoiceField(required=False)
    fraud = forms.ChoiceField(choices=FRAUD_CHOICES, required=False)
    claims = forms.ChoiceField(choices=CLAIM_CHOICES, required=False)
    sort = forms.ChoiceField(choices=list(SORTS.items()), required=False)
    q = forms.CharField(required=False, max_length=200, strip=True)
    environment = forms.ChoiceField(choices=Environment.choices, required=False)

    def __init__(self, *args: Any, workflows: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["workflow"].choices = [("", "All workflows"), *workflows]

    def values(self) -> dict[str, str]:
        """The filters in effect; an invalid value falls back to its default, and the other
        filters stay as given (a bad ?claims= must not show another queue)."""
        self.is_valid()  # cleans each field: cleaned_data keeps the valid ones
        data = getattr(self, "cleaned_data", {})  # none when nothing was given
        return {
            "status": data.get("status") or SubmissionStatus.REVIEW,
            "workflow": data.get("workflow") or "",
            "fraud": data.get("fraud") or "",
            "claims": data.get("claims") or "",
            "sort": data.get("sort") or "",
            "q": data.get("q") or "",
            "environment": data.get("environment") or Environment.PRODUCTION,
        }


class VersionedForm(forms.Form):
    """Every action carries the version the reviewer saw; the service refuses a stale one."""

    version = forms.IntegerField(min_value=1, widget=forms.HiddenInput)


class ApproveForm(VersionedForm):
    pass


class RejectForm(VersionedForm):
    preset = forms.ChoiceField(
        choices=[("", "Pick a common reason…"), *[(r, r) for r in REJECT_REASONS]],
        required=False,
        label="Common reason",
        # Named as the typed reason is when review.js asks about unsaved input.
        widget=forms.Select(attrs={"id": "reject-preset", "data-unsaved-label": "Reject reason"}),
    )
    # No max_length: rendered as the box's maxlength, a browser cut a longer pasted
    # reason to fit without a word; the service's limit refuses it, saying so.
    reason = forms.CharField(
        required=False,
        strip=True,
        label="Reason",
        widget=forms.Textarea(
            attrs={
                "rows": 2,
                "placeholder": "Or write the reason",
                "aria-label": "Reject reason",
                # How review.js names it when it is typed but not sent.
                "data-unsaved-label": "Reject reason",
            }
        ),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        reason = data.get("reason") or data.get("preset") or ""
        if not reason:
            raise forms.ValidationError("A reason is required to reject a submission.")
        data["final_reason"] = reason
        return data


class CancelForm(VersionedForm):
    # No max_length: the service's limit refuses a longer reason saying so (as the API
    # does), and the page keeps it; the form's answered "incomplete" and dropped it.
    reason = forms.CharField(required=False, strip=True)


class LineItemsForm(VersionedForm):
    """The version; the rows (description-N, quantity-N, amount-N) are read by the view."""


class CorrectionForm(VersionedForm):
    """The value is checked by the service alone (length, characters, the schema), so a
    refusal reads as the API's and the typed value is shown back at its field."""

    field = forms.CharField(max_length=100)
    value = forms.CharField(required=False, strip=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["value"].validators = []  # Django's own refuses NUL with its wording
