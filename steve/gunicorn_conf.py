"""gunicorn settings for Steve's web process: `gunicorn -c python:steve.gunicorn_conf`.

Only what Steve needs from every deployment; bind address, workers and the like stay on
the command line.
"""

# Access log lines without upload/download tokens (steve.logredact).
logger_class = "steve.logredact.RedactingGunicornLogger"
accesslog = "-"

# gunicorn's default, written down: a request still running after this many seconds has
# its worker killed. A statement of one ends 5 s earlier (WEB_STATEMENT_TIMEOUT_SECONDS).
timeout = 30
