"""Errors raised by the extraction package, carrying the workflow's error codes."""

from __future__ import annotations

# Steps, as reported to API clients in ``error.details.step``.
STEP_VALIDATION = "file_validation"
STEP_TEXT = "text_extraction"
STEP_PARSING = "field_parsing"

ERROR_CODES = frozenset(
    {
        "UNSUPPORTED_FILE",
        "FILE_TOO_LARGE",
        "PASSWORD_REQUIRED",
        "PASSWORD_INVALID",
        "PAGE_LIMIT_EXCEEDED",
        "OCR_FAILED",
        "PROCESSING_ERROR",
    }
)


class ExtractionError(Exception):
    """A document could not be extracted; ``code`` is one of ``ERROR_CODES``."""

    def __init__(
        self, code: str, message: str, *, retryable: bool = False, step: str = STEP_VALIDATION
    ) -> None:
        if code not in ERROR_CODES:
            raise ValueError(f"unknown extraction error code {code!r}")
        super().__init__(message)
        self.code = code
        self.message = message
        self.retryable = retryable
        self.step = step

    def __reduce__(self) -> tuple[object, ...]:
        # Keyword-only arguments are lost by the default pickling, and the isolated
        # runner sends these errors across a process boundary.
        return (_rebuild, (self.code, self.message, self.retryable, self.step))

    def __repr__(self) -> str:
        return f"ExtractionError({self.code!r}, {self.message!r}, retryable={self.retryable})"


def _rebuild(code: str, message: str, retryable: bool, step: str) -> ExtractionError:
    return ExtractionError(code, message, retryable=retryable, step=step)


class ReadingKilled(Exception):
    """The process reading a file was killed from outside before it had a result: by the
    kernel's out-of-memory killer when the machine ran short (the reading process is the
    largest on a worker, so the one it picks), or by an operator or a stopping service.
    It says nothing of the file, unlike a crash or the process's own memory cap
    (ExtractionError): the job is tried again."""

    def __init__(self, signal_name: str) -> None:
        super().__init__(f"The process reading the file was killed from outside ({signal_name}).")
        self.signal_name = signal_name
