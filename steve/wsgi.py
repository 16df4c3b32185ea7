import os

from django.core.wsgi import get_wsgi_application
from django.db.backends.signals import connection_created

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "steve.settings")
application = get_wsgi_application()

# The web process's statements end before gunicorn's timeout; a worker's do not (steve.webdb).
from steve.webdb import limit_web_statements  # noqa: E402  (needs the settings above)

connection_created.connect(limit_web_statements, dispatch_uid="steve.webdb")
