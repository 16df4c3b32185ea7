"""How the admin shows a date and time (its columns and read-only fields): the review
desk's "2026-03-05 10:30:12 UTC". Django's "March 5, 2026, 10:30 a.m." is in TIME_ZONE
(UTC) without saying so, and an operator east of UTC read it as their own time."""

DATETIME_FORMAT = "Y-m-d H:i:s T"
