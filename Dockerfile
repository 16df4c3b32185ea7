# syntax=docker/dockerfile:1
# One image for every role: `web` (gunicorn), `worker` (Celery) or `beat`.

FROM python:3.11.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# The locked versions (scripts/lock writes requirements.lock from pyproject.toml).
COPY pyproject.toml requirements.lock requirements-models.txt ./
RUN python -m venv /venv && /venv/bin/pip install --upgrade pip \
    && /venv/bin/pip install -r requirements.lock \
    && /venv/bin/pip install --no-deps --require-hashes -r requirements-models.txt \
    && /venv/bin/pip install --no-deps .
COPY . .
RUN DEBUG=1 DATA_DIR=/tmp/steve /venv/bin/python manage.py collectstatic --no-input -v 0

FROM python:3.11.11-slim-bookworm AS runtime
RUN apt-get update && apt-get install -y --no-install-recommends \
        tesseract-ocr tesseract-ocr-eng libgl1 libglib2.0-0 fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 steve
ENV PATH=/venv/bin:$PATH PYTHONUNBUFFERED=1 DATA_DIR=/data
COPY --from=build /venv /venv
COPY --from=build --chown=steve:steve /app /app
RUN mkdir -p /data && chown steve:steve /data
WORKDIR /app
USER steve
EXPOSE 8000
ENTRYPOINT ["/app/scripts/entrypoint"]
CMD ["web"]
