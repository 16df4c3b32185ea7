"""gunicorn settings for Steve's web process: `gunicorn -c python:steve.gunicorn_conf`.

Only what Steve needs from every deployment; bind address, workers and the like stay on
the command line.
"""

# Access and error log lines without upload/download tokens (steve.logredact).
logger_class = "steve.logredact.RedactingGunicornLogger"
accesslog = "-"

# gunicorn's default, written down: a request still running after this many seconds has
# its worker killed. A statement of one ends 5 s earlier (WEB_STATEMENT_TIMEOUT_SECONDS).
timeout = 30

# gunicorn's default format, and the Request-Id Steve answered (the client's X-Request-Id,
# or the one it made): a 2xx writes no other line, and an integrator quotes that id.
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %({request-id}o)s'
