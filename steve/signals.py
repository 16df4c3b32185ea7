"""Keep the API key cache of steve.api.auth in step with the database."""

from typing import Any

from django.core.cache import cache
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from steve.models import ApiKey, Company
from steve.services import api_key_cache_key


@receiver([post_save, post_delete], sender=ApiKey)
def forget_api_key(sender: type, instance: ApiKey, **kwargs: Any) -> None:
    cache.delete(api_key_cache_key(instance.digest))


@receiver([post_save, post_delete], sender=Company)
def forget_company_keys(sender: type, instance: Company, **kwargs: Any) -> None:
    digests = ApiKey.objects.filter(company_id=instance.pk).values_list("digest", flat=True)
    cache.delete_many([api_key_cache_key(digest) for digest in digests])
