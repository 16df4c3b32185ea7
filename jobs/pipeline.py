"""The processing pipeline: files → text → fields → fraud checks → decision.

It orchestrates the other apps' services and changes nothing itself. Each step
advances the session's progress; any failure ends the session `failed` with a code.
"""

import contextlib
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import DatabaseError, connection
from django.utils import timezone

from fraud.services import (
    HashedPage,
    PageImage,
    fraud_run_checks,
    fraud_sentence,
    hash_page,
    outcome_for,
)
from jobs.extraction import (
    REQUIRED_FIELDS,
    Extraction,
    ExtractionError,
    Page,
    ReadingKilled,
    extract_document_isolated,
)
from jobs.extraction.isolated import run_bounded
from jobs.extraction.readable import (
    LOCKED,
    PDF_CHECK_MEMORY_MB,
    PDF_CHECK_SECONDS,
    pdf_structure,
)
from jobs.extraction.shown import shown_fields
from jobs.models import SessionState, WorkflowSession
from jobs.selectors import session_run_lost
from jobs.services import (
    session_complete,
    session_fail,
    session_follow_submission,
    session_heartbeat,
    session_interrupt,
    session_set_progress,
    session_start_run,
)
from steve.blips import is_database_blip, through_blips
from steve.models import Environment
from steve.workflow_rules import schema_refusal
from submissions.models import FraudStatus, Submission, SubmissionFile, SubmissionStatus
from submissions.selectors import memory_still_holds, shop_memory
from submissions.services import (
    locked_submission,
    merchant_memory_hold,
    submission_finish_processing,
    summary_with,
)

logger = logging.getLogger(__name__)

PROGRESS_LOADED = 10
PROGRESS_EXTRACTED = 75
PROGRESS_FRAUD = 90

# The database did not answer (PostgreSQL restarting, a dropped connection, a deadlock):
# the run is tried again after each delay, on a new connection, keeping its claim on the
# session. Uncaught, the task died and the stuck sweep took the blip for a worker killed
# mid-job, spending one of STUCK_SESSION_MAX_REQUEUES (PROCESSING_TIMEOUT after three).
# Together well under STUCK_SESSION_HEARTBEAT_SECONDS (90): the sweep does not take a
# waiting worker for dead. A database away for longer than all of them is no blip: the
# error goes on, and the sweep's budget bounds the job as for any death.
DATABASE_RETRY_DELAYS: tuple[float, ...] = (1, 2, 4, 8, 16)
# process_session's soft time limit (jobs.tasks): a run still going then fails
# PROCESSING_ERROR. A new try after a blip starts over, so it is made only when it can end
# before then; otherwise the stuck sweep re-queues the job, with a whole limit.
TIME_LIMIT_SECONDS = 600
T = TypeVar("T")


class Stopped(Exception):
    """The session ended while it was processed (its submission was cancelled), or this
    run lost it to another (session_heartbeat)."""


def _step(session_id: str, progress: int, claimed_at: datetime | None = None) -> None:
    """Advance progress and renew the heartbeat, or stop here when the session has ended
    meanwhile or another run took it (`claimed_at`: this run's claim). The heartbeat is
    renewed whatever the progress: a run taken over after a worker died repeats steps
    below the progress it found."""
    session_set_progress(session_id=session_id, progress=progress, claimed_at=claimed_at)
    _beat(session_id, claimed_at)


def _beat(session_id: str, claimed_at: datetime | None = None) -> None:
    """While a file is read: the worker is alive, and stops reading (the child process is
    killed) as soon as the session has ended, e.g. when its submission was cancelled, or
    another run took it."""
    if not session_heartbeat(session_id=session_id, claimed_at=claimed_at):
        raise Stopped(session_id)


@contextlib.contextmanager
def _heartbeat_meanwhile(session_id: str, claimed_at: datetime | None = None) -> Iterator[None]:
    """Keep the heartbeat fresh from a thread of its own (its own connection, autocommit)
    while a step runs in one long transaction: the fraud checks wait for the company's
    lock, and the step's own writes are seen only at commit. Without it a live worker
    waiting past STUCK_SESSION_HEARTBEAT_SECONDS was taken for dead, and its session run a
    second time beside it (three times: failed PROCESSING_TIMEOUT). The beats never wait
    for the session's row lock, which the fraud checks hold (SessionHeartbeat)."""
    done = threading.Event()

    def beat() -> None:
        try:
            while not done.wait(settings.SESSION_HEARTBEAT_EVERY_SECONDS):
                try:
                    if not session_heartbeat(session_id=session_id, claimed_at=claimed_at):
                        return  # ended or taken over: the step's end stops the run (_step)
                except DatabaseError as error:
                    if not is_database_blip(error):
                        raise
                    # Beat again next time, on a new connection.
                    logger.warning("Session %s: a heartbeat did not reach the database", session_id)
                    connection.close()
        finally:
            connection.close()  # this thread's own

    thread = threading.Thread(target=beat, name=f"heartbeat-{session_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


# A file's reading of a field counts against another file's from this confidence up.
# Below it the reader guessed (a date whose day and month could swap is read at 0.5, the
# terms on a receipt's back taken for a shop's name at ~0.3), and the other file's
# confident reading settles the field as before.
DISAGREEMENT_FLOOR = 0.6
# What a field the files disagree on is left with: under every review gate (thresholds
# are 1-99), so the submission goes to review wherever a field gate applies.
DISAGREED_CONFIDENCE = 0.0
DATE_SHAPE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")


@dataclass(frozen=True)
class FileRead:
    """One file's reading of one field, with its boxes (each naming the file)."""

    file_index: int
    value: Any
    confidence: float
    boxes: list[dict]


def _compared(value: Any) -> object:
    """A field's value as its type compares: an amount as a Decimal (18 is 18.00), a
    date as a date, text by its letters and digits alone ("Kedai  Buku" is "KEDAI BUKU",
    "SDN. BHD." is "SDN BHD": two photos of one receipt differ so, two shops not). A list
    (line items) compares as None: it is no disagreement, as before."""
    if isinstance(value, bool | list | dict):
        return None
    if isinstance(value, int | float | Decimal):
        return Decimal(str(value))
    if isinstance(value, str):
        if shape := DATE_SHAPE.fullmatch(value.strip()):
            with contextlib.suppress(ValueError):  # no such day: compared as text
                return date(*(int(part) for part in shape.groups()))
        return "".join(ch for ch in value if ch.isalnum()).casefold()
    return value


def _disagree(reads: list[FileRead]) -> bool:
    confident = {_compared(r.value) for r in reads if r.confidence >= DISAGREEMENT_FLOOR}
    return len(confident - {None}) > 1


def _shown(value: Any) -> str:
    return f"{value:.2f}" if isinstance(value, float) else str(value)


@dataclass
class Merged:
    """Fields of all files of a submission: each field from the file most sure of it. When
    files read different values for a field (each confidently), it is a disagreement:
    the field keeps the most confident value but no confidence, and its evidence every
    file's boxes and reading. Two receipts of different shops sent as one submission
    otherwise came out as one receipt of neither, and went straight through."""

    fields: dict[str, Any] = field(default_factory=dict)
    confidences: dict[str, float] = field(default_factory=dict)
    evidence: dict[str, list[dict]] = field(default_factory=dict)
    pages_text: list[str] = field(default_factory=list)
    summaries: list[str] = field(default_factory=list)
    certainty: float = 1.0
    reads: dict[str, list[FileRead]] = field(default_factory=dict)

    def add(self, file_index: int, extraction: Extraction) -> None:
        for name, value in extraction.fields.items():
            boxes = [{"file": file_index, **box} for box in extraction.evidence.get(name, [])]
            confidence = extraction.field_confidences.get(name, 0.0)
            self.reads.setdefault(name, []).append(FileRead(file_index, value, confidence, boxes))
            self._settle(name)
        self.pages_text.extend(extraction.pages_text)
        self.summaries.append(extraction.summary)
        self.certainty = min(self.certainty, extraction.certainty)

    def _settle(self, name: str) -> None:
        reads = self.reads[name]
        best = max(reads, key=lambda r: r.confidence)  # the first of equals, as before
        self.fields[name] = best.value
        if not _disagree(reads):
            self.confidences[name] = best.confidence
            self.evidence[name] = best.boxes
            return
        self.confidences[name] = min(best.confidence, DISAGREED_CONFIDENCE)
        self.evidence[name] = [
            *(box for read in reads for box in read.boxes),
            *({"file": r.file_index, "read": r.value, "confidence": r.confidence} for r in reads),
        ]

    @property
    def disagreed(self) -> list[str]:
        """The fields the files read different values of, by name."""
        return sorted(name for name, reads in self.reads.items() if _disagree(reads))

    def disagreement_sentence(self) -> str:
        """For the summary: which fields the files disagree on, and what each read."""
        parts = []
        for name in self.disagreed:
            reads = [r for r in self.reads[name] if r.confidence >= DISAGREEMENT_FLOOR]
            each = "; ".join(f"file {r.file_index + 1}: {_shown(r.value)}" for r in reads)
            parts.append(f"{name} ({each})")
        if not parts:
            return ""
        listed = ", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else parts[0]
        return f"The files disagree on {listed}."


def recall_shop(submission: Submission, merged: Merged) -> None:
    """Give the merchant fields what reviewers taught Steve about this shop: the memory's
    value with its own confidence (how often it has been right), or, when the reading
    agrees with it, the higher of the two. The evidence says how many corrections back it.

    Correction memory is production's: a sandbox submission neither teaches nor reads it.
    """
    if submission.environment != Environment.PRODUCTION:
        return
    recalled = shop_memory(
        company_id=submission.company_id,
        text="\n".join(merged.pages_text),
        read_address=merged.fields.get("merchantAddress"),
        read_name=merged.fields.get("merchantName"),
    )
    disagreed = merged.disagreed
    for name, recall in recalled.items():
        confidence = recall.confidence
        read = merged.fields.get(name)
        if read == recall.value:
            confidence = max(confidence, merged.confidences.get(name, 0.0))
        if name in disagreed:  # it knows one file's shop; a reviewer says which is meant
            confidence = min(confidence, DISAGREED_CONFIDENCE)
        merged.fields[name] = recall.value
        merged.confidences[name] = confidence
        if len(merged.summaries) == 1:  # the summary names the shop as remembered too
            currency = str(merged.fields.get("currency") or "")
            patched = summary_with(merged.summaries[0], name, read, recall.value, currency)
            merged.summaries[0] = patched or merged.summaries[0]
        # What was read stays in the evidence: a correction finds the memory by it.
        memory = {"memory": list(recall.memory_ids), "corrections": recall.corrections}
        merged.evidence[name] = [*merged.evidence.get(name, []), {**memory, "read": read}]


def _recall_of(evidence: list[Any]) -> dict[str, Any] | None:
    """The memory's entry in a field's evidence (recall_shop), if the memory gave it."""
    return next((e for e in evidence if isinstance(e, dict) and "memory" in e), None)


def drop_forgotten_recalls(merged: Merged) -> None:
    """Take back a recalled value an admin forgot while the receipt was processed (the
    fraud checks take seconds): it went out as remembered, even straight through. What
    was read comes back, with no confidence to stand on, so the field is reviewed."""
    for name, evidence in list(merged.evidence.items()):
        recall = _recall_of(evidence)
        if recall is None or name not in merged.fields:
            continue
        if memory_still_holds(memory_ids=recall["memory"], value=merged.fields[name]):
            continue
        given, read = merged.fields[name], recall.get("read")
        merged.evidence[name] = [e for e in evidence if e is not recall]
        merged.confidences[name] = 0.0
        if read is None:
            del merged.fields[name]
        else:
            merged.fields[name] = read
        if len(merged.summaries) == 1:  # it named the shop as remembered
            currency = str(merged.fields.get("currency") or "")
            patched = summary_with(merged.summaries[0], name, given, read, currency)
            merged.summaries[0] = patched or merged.summaries[0]


def fit_to_schema(merged: Merged, schema: dict[str, Any]) -> None:
    """Drop the fields the workflow version's output schema cannot hold: its integrators
    validate against it. A version published before totals could be negative cannot hold
    a credit note's total, and an admin may have removed or narrowed a field. What was
    read stays in the evidence; a required field dropped goes to review as missing."""
    properties = schema.get("properties", {})
    closed = schema.get("additionalProperties") is False
    dropped: list[str] = []
    for name, value in list(merged.fields.items()):
        if name not in properties:
            refusal = "not in the output schema" if closed else None
        else:
            refusal = schema_refusal(schema, name, value)
        if refusal is not None:
            del merged.fields[name]
            merged.confidences.pop(name, None)
            kept = {"read": value, "schema": refusal}
            merged.evidence[name] = [*merged.evidence.get(name, []), kept]
            dropped.append(name)
    if dropped:  # the files' summaries still tell what was read
        merged.summaries.append(f"Not stored, refused by the output schema: {', '.join(dropped)}.")


def review_threshold(session: WorkflowSession) -> int:
    return int(session.options.get("documentReview") or session.workflow_version.review_threshold)


def flagged_fields(kind: str, merged: Merged, threshold: int, schema: dict[str, Any]) -> list[str]:
    """Required fields that are missing, and any field read with too little confidence.

    Required are the kind's own fields and those the version's output schema requires
    (an admin may add one: extractedData without it fails the integrator's validation).
    A field the schema has no place for (``properties``) is not required of it: no
    reviewer could fill it in."""
    properties = schema.get("properties", {})
    required = dict.fromkeys([*REQUIRED_FIELDS[kind], *(schema.get("required") or [])])
    missing = [
        name for name in required if name in properties and merged.fields.get(name) in (None, "")
    ]
    weak = [
        name
        for name, confidence in merged.confidences.items()
        if confidence * 100 < threshold and name not in missing
    ]
    return missing + sorted(weak)


def overall_confidence(kind: str, merged: Merged) -> float:
    required = REQUIRED_FIELDS[kind]
    values = [merged.confidences.get(name, 0.0) for name in required]
    return round(sum(values) / len(values), 3) if values else 0.0


@dataclass(frozen=True)
class PageRead:
    """What the worker keeps of a page once its file is read: how OCR turned it (for the
    review page) and its fraud fingerprints (None when they could not be taken)."""

    transform: dict[str, Any]
    hashed: HashedPage | None


def _page_read(file_id: str, page: Page) -> PageRead:
    """Runs in the reading process as each page is read: its image stays there. The fraud
    step needs only what hash_page takes from it, and a worker that kept a session's
    images for it (5 files of 20 scanned A4 pages, ~12 MB each) went from 0.6 to 2 GB."""
    image = PageImage(file_id=file_id, page=page.index, image=page.image, words=page.words)
    return PageRead(transform=page.transform, hashed=hash_page(image))


def _extract_file(
    session: WorkflowSession,
    file: SubmissionFile,
    deadline: float,
    on_progress: Callable[[int, int], object] | None = None,
) -> tuple[list[PageRead], Extraction]:
    with default_storage.open(file.storage_key, "rb") as handle:
        data = handle.read()
    return extract_document_isolated(
        data,
        digest=lambda page: _page_read(file.pk, page),
        kind=session.workflow_version.kind,
        password=session.options.get("password") or None,
        page_timeout_s=settings.EXTRACTION_PAGE_SECONDS,
        deadline=deadline,
        heartbeat=lambda: _beat(session.pk, session.run_claimed_at),
        heartbeat_every=settings.SESSION_HEARTBEAT_EVERY_SECONDS,
        on_progress=on_progress,
        what=f"Company {session.company_id}: session {session.pk} "
        f"(submission {session.submission_id}), file {file.file_index}",
    )


def _needed_its_password(session: WorkflowSession, file: SubmissionFile) -> bool:
    """Whether ``file``, read with the session's password, does not open without it: the
    password is dropped when the session ends, so its pages cannot be rendered again."""
    if not session.options.get("password") or file.mime_type != "application/pdf":
        return False
    with default_storage.open(file.storage_key, "rb") as handle:
        data = handle.read()
    found = run_bounded(
        lambda: pdf_structure(data), seconds=PDF_CHECK_SECONDS, memory_mb=PDF_CHECK_MEMORY_MB
    )
    return found is not None and found.verdict == LOCKED


def _reading_progress(
    session: WorkflowSession, start: float, span: float
) -> Callable[[int, int], None]:
    """Progress while a file is read, over its ``span`` of the bar by pages read: a long
    document's polling shows its pages being read, not one number for minutes."""

    def report(done: int, total: int) -> None:
        if done:
            _step(session.pk, int(start + span * done / max(1, total)), session.run_claimed_at)

    return report


def _naming_the_file(error: ExtractionError, file: SubmissionFile, count: int) -> ExtractionError:
    """The error of one file of several says which: "The image has too many pixels." of a
    session of five left the integrator guessing which file to send again."""
    if count < 2:
        return error
    where = f"File {file.file_index + 1} of {count} (fileIndex {file.file_index})"
    return ExtractionError(
        error.code, f"{where}: {error.message}", retryable=error.retryable, step=error.step
    )


def _extract_all(session: WorkflowSession) -> tuple[Merged, list[HashedPage]]:
    files = list(session.submission.files.order_by("file_index"))
    merged, hashed = Merged(), []
    span = (PROGRESS_EXTRACTED - PROGRESS_LOADED) / max(1, len(files))
    deadline = time.monotonic() + settings.EXTRACTION_BUDGET_SECONDS  # for all the files
    for position, file in enumerate(files):
        progress = _reading_progress(session, PROGRESS_LOADED + span * position, span)
        try:
            pages, extraction = _extract_file(session, file, deadline, on_progress=progress)
        except ExtractionError as exc:
            raise _naming_the_file(exc, file, len(files)) from exc
        SubmissionFile.objects.filter(pk=file.pk).update(
            page_count=len(pages),
            page_transforms=[p.transform for p in pages],
            password_protected=_needed_its_password(session, file),
        )
        hashed += [p.hashed for p in pages if p.hashed is not None]
        merged.add(file.file_index, extraction)
        _step(session.pk, int(PROGRESS_LOADED + span * (position + 1)), session.run_claimed_at)
    if disagreement := merged.disagreement_sentence():  # after the files' own summaries
        merged.summaries.append(disagreement)
    return merged, hashed


def _decide(session: WorkflowSession, merged: Merged, fraud_status: str) -> tuple[str, list[str]]:
    version = session.workflow_version
    schema = version.output_schema or {}
    flagged = flagged_fields(version.kind, merged, review_threshold(session), schema)
    one_shot = session.source == WorkflowSession.Source.EXTRACTION_JOB
    # A one-shot extraction job has a field gate only when it asked for one
    # (`documentReview`, seed 003); fraud always sends a submission to review.
    gated = not one_shot or "documentReview" in session.options
    auto_approve = one_shot or session.workflow_version.auto_approve
    if fraud_status != FraudStatus.CLEAN or (gated and flagged) or not auto_approve:
        return SubmissionStatus.REVIEW, flagged
    return SubmissionStatus.APPROVED, flagged


def run(session_id: str) -> None:
    ends = time.monotonic() + TIME_LIMIT_SECONDS
    claimed_at = timezone.now()  # the claim's stamp: every try of this run claims with it
    session = _through_blips(session_id, lambda: _claim(session_id, claimed_at), ends)
    if session is not None:
        _through_blips(session_id, lambda: _process(session), ends)


def _through_blips(session_id: str, work: Callable[[], T], ends: float) -> T:
    """`work` through database blips (steve.blips). A new try that would not end by
    `ends` is not made: after a long read, it ran into the soft time limit, and a blip
    failed the job instead of having it re-queued."""
    return through_blips(
        work, delays=DATABASE_RETRY_DELAYS, what=f"Session {session_id}", ends=ends
    )


def _claim(session_id: str, claimed_at: datetime) -> WorkflowSession | None:
    """The session, claimed for this run; None when there is nothing for it to do."""
    session = (
        WorkflowSession.objects.select_related("workflow_version__workflow", "submission")
        .filter(pk=session_id)
        .first()
    )
    if session is None:
        # Deleted with its company while its message waited (or a message from another
        # database): there is nothing to run, and every copy of it raised before.
        logger.warning("Session %s no longer exists; its processing message is dropped", session_id)
        return None
    if session.state != SessionState.SUBMITTED:
        return None  # already finished: re-running a session changes nothing
    if session.submission.status != SubmissionStatus.PROCESSING:
        # Cancelled while queued: the session ends with its submission.
        session_follow_submission(session_id=session_id)
        return None
    if not session_start_run(session_id=session_id, at=claimed_at):
        return None  # another worker runs it and is alive (a duplicate or redelivered message)
    session.run_claimed_at = claimed_at  # as stored by the claim: this run's own
    return session


def _process(session: WorkflowSession) -> None:
    """Run the claimed session's steps and decide it, or fail it with its error's code.
    A database blip is no error of the job's: it goes to _through_blips."""
    session_id, claimed_at = session.pk, session.run_claimed_at
    try:
        _step(session_id, PROGRESS_LOADED, claimed_at)
        merged, hashed = _extract_all(session)
        if session.workflow_version.kind == "receipt":
            recall_shop(session.submission, merged)
        fit_to_schema(merged, session.workflow_version.output_schema or {})
        _step(session_id, PROGRESS_EXTRACTED, claimed_at)
        with _heartbeat_meanwhile(session_id, claimed_at):
            outcome = fraud_run_checks(
                submission_id=session.submission_id,
                hashed=hashed,
                fields=merged.fields,
                text="\n".join(merged.pages_text),
                page_texts=merged.pages_text,
                # A PDF's page showing a checked field otherwise than its text layer
                # says: the data check compares what it shows too (an edited copy of an
                # earlier receipt whose invisible text names another shop or total).
                shown=shown_fields(merged.fields, merged.evidence),
            )
        _step(session_id, PROGRESS_FRAUD, claimed_at)
        _finish(session, merged, outcome.status)
    except Stopped:
        _log_stopped(session_id, claimed_at)
    except ReadingKilled as exc:
        # Most often the kernel's out-of-memory killer, which picks the largest process: a
        # file that reads fine on another try was failed for good. Tried again as after a
        # worker killed mid-job (the stuck sweep), within the same limit.
        if not _lost(session_id, claimed_at):
            logger.warning("Session %s: %s The job will be re-queued.", session_id, exc)
            session_interrupt(session_id=session_id, by=exc.signal_name, claimed_at=claimed_at)
    except ExtractionError as exc:
        if not _lost(session_id, claimed_at):
            session_fail(
                session_id=session_id,
                code=exc.code,
                reason=exc.message,
                step=exc.step,
                retryable=exc.retryable,
                claimed_at=claimed_at,
            )
    except Exception as exc:
        if is_database_blip(exc):
            raise
        if not _lost(session_id, claimed_at):
            logger.exception("Processing session %s failed", session_id)
            session_fail(
                session_id=session_id,
                code="PROCESSING_ERROR",
                reason="Steve could not process the document.",
                step="pipeline",
                retryable=True,
                claimed_at=claimed_at,
            )


def _lost(session_id: str, claimed_at: datetime | None) -> bool:
    """Whether this run lost its job to another run (said in the log): its failure is its
    own, and failing the job (or re-queueing it) would end that run's work. The services
    check it again under their lock."""
    if claimed_at is None or not session_run_lost(session_id=session_id, claimed_at=claimed_at):
        return False
    # Frozen (SIGSTOP, a paused machine) or cut off past its lease, the stuck sweep
    # re-queued the job and another worker took it: that run goes on alone.
    logger.warning(
        "Session %s: this run (claimed at %s) lost its job to another run while it"
        " stood still past its lease; it stops, leaving the job to that run",
        session_id,
        claimed_at.isoformat(),
    )
    return True


def _log_stopped(session_id: str, claimed_at: datetime | None) -> None:
    if not _lost(session_id, claimed_at):
        logger.info("Session %s ended while processing; the pipeline stops", session_id)


def _finish(session: WorkflowSession, merged: Merged, fraud_status: str) -> None:
    # The decision and the session's completion stand or fall together.
    session_complete(
        session_id=session.pk,
        decide=lambda: _decide_and_store(session, merged, fraud_status),
    )


def _decide_and_store(session: WorkflowSession, merged: Merged, fraud_status: str) -> None:
    """Decide on the receipt and store it, in the session's completing transaction. A
    value the memory gave is checked under the memory's hold: checked before it, a
    forget that committed in between (or was under way) left the receipt citing a
    forgotten value, even straight through."""
    if any(_recall_of(evidence) for evidence in merged.evidence.values()):
        merchant_memory_hold(submission_id=session.submission_id)
    drop_forgotten_recalls(merged)
    to_status, flagged = _decide(session, merged, fraud_status)
    kind = session.workflow_version.kind
    confidence = overall_confidence(kind, merged)
    _store_decision(session, to_status, flagged, merged, confidence, fraud_status)


def _store_decision(
    session: WorkflowSession,
    to_status: str,
    flagged: list[str],
    merged: Merged,
    confidence: float,
    fraud_status: str,
) -> None:
    """The decision, with the summary's sentence about fraud read from the matches as
    they are now, under the row lock the decision keeps: between the checks and here, a
    match may have been withdrawn (the submission it matched was cancelled or failed) or
    a twin checked meanwhile may have matched this one, and the fraud status the
    decision stores (submission_finish_processing) changed with them. Built from the
    checks' outcome, the summary said "1 blocked fraud match" of a clean submission."""
    locked_submission(submission_id=session.submission_id)
    fraud = outcome_for(session.submission_id)
    summary = " ".join(
        [
            *merged.summaries,
            fraud_sentence(fraud.status, fraud.match_count, confirmed=fraud.confirmed_count),
        ]
    )
    submission_finish_processing(
        submission_id=session.submission_id,
        to_status=to_status,
        results={
            "extracted_data": merged.fields,
            "confidence": confidence,
            "field_confidences": merged.confidences,
            "evidence": merged.evidence,
            "pages_text": merged.pages_text,
            "certainty": round(merged.certainty, 3),
            "ai_summary": summary,
            "review_flagged_fields": flagged,
        },
        details={
            "compliance": confidence,
            "fraudStatus": fraud_status,
            "flaggedFields": flagged,
            "reviewThreshold": review_threshold(session),
        },
    )
