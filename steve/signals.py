"""Keep the API key cache of steve.api.auth in step with the database."""

import logging
from typing import Any

from django.core.cache import cache
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from steve import redis_pause
from steve.models import ApiKey, Company
from steve.services import api_key_cache_key, api_key_cache_overwrite

logger = logging.getLogger(__name__)


@receiver(post_save, sender=ApiKey)
def forget_api_key(sender: type, instance: ApiKey, **kwargs: Any) -> None:
    api_key_cache_overwrite(instance)


@receiver(post_delete, sender=ApiKey)
def bury_api_key(sender: type, instance: ApiKey, **kwargs: Any) -> None:
    api_key_cache_overwrite(instance, deleted=True)


@receiver([post_save, post_delete], sender=Company)
def forget_company_keys(sender: type, instance: Company, **kwargs: Any) -> None:
    # Revoked keys keep their entry (api_key_cache_overwrite): it must not be emptied.
    digests = ApiKey.objects.filter(company_id=instance.pk, revoked_at__isnull=True).values_list(
        "digest", flat=True
    )
    try:
        cache.delete_many([api_key_cache_key(digest) for digest in digests])
    except Exception:  # the cache is down: nothing in it can be served either
        redis_pause.log_failure(logger, "Could not update the API key cache")
