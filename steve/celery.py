import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "steve.settings")

app = Celery("steve")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
