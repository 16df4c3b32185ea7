"""gunicorn settings for Steve's web process: `gunicorn -c python:steve.gunicorn_conf`.

Only what Steve needs from every deployment; bind address, workers and the like stay on
the command line.
"""

# Access log lines without upload/download tokens (steve.logredact).
logger_class = "steve.logredact.RedactingGunicornLogger"
accesslog = "-"
