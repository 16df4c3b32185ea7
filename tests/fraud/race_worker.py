"""One worker of the race test: run the fraud checks for a submission at a given moment.

    python -m tests.fraud.race_worker <submission_id> <file_id> <start_epoch>

Runs as its own process with its own database connection (DATABASE_URL of the test DB).
"""

import io
import sys
import time

import django


def main() -> None:
    django.setup()
    from PIL import Image

    from fraud.services import PageImage, fraud_run_checks
    from tests.fraud.helpers import receipt_bytes

    submission_id, file_id, start = sys.argv[1], sys.argv[2], float(sys.argv[3])
    image = Image.open(io.BytesIO(receipt_bytes(3)))
    image.load()
    time.sleep(max(0.0, start - time.time()))
    outcome = fraud_run_checks(
        submission_id=submission_id,
        pages=[PageImage(file_id=file_id, page=0, image=image)],
        fields={},
        text="",
    )
    print(outcome.status)


if __name__ == "__main__":
    main()
