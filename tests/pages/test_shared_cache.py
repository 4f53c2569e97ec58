"""``CATALOG_CACHE_URL=redis://...``: pages, charts and thumbnails shared through Redis.

Against the Redis server these machines run on 127.0.0.1:6379 (``.ci/run`` starts it
when it is down and sets ``CATALOG_TEST_REQUIRE_REDIS``, so CI fails rather than skips).
Each test writes under a key prefix of its own and deletes it afterwards.
"""

from __future__ import annotations

import os
import uuid

import pytest
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.test import Client
from django.urls import reverse

from catalog.models import SyncRun
from catalog.pagecache import STATUS_HEADER
from smartmaint_site.caches import cache_settings
from tests.factories import make_sync_run

REDIS_URL = os.environ.get("CATALOG_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def redis_client():
    import redis

    return redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)


def redis_is_up() -> bool:
    try:
        return bool(redis_client().ping())
    except Exception:
        return False


@pytest.fixture
def shared_caches(settings):
    """The site's CACHES for a Redis URL, under a prefix only this test uses."""
    if not redis_is_up():
        if os.environ.get("CATALOG_TEST_REQUIRE_REDIS"):
            pytest.fail(f"no Redis at {REDIS_URL}")
        pytest.skip(f"no Redis at {REDIS_URL}")
    prefix = f"test-{uuid.uuid4().hex}"
    settings.CATALOG_PAGE_CACHE_SECONDS = 300
    settings.CACHES = cache_settings(
        cache_url=REDIS_URL,
        cache_dir="unused",
        page_seconds=300,
        page_max_bytes=64 * 1024**2,
        page_max_entry_bytes=2 * 1024**2,
        key_prefix=prefix,
    )
    yield prefix
    client = redis_client()
    for key in client.scan_iter(match=f"{prefix}-*"):
        client.delete(key)


def another_worker(settings, alias: str) -> RedisCache:
    """A cache object as another worker process would build it from the same settings."""
    config = settings.CACHES[alias]
    return RedisCache(config["LOCATION"], {**config})


def test_the_settings_put_every_cache_in_redis_when_a_url_is_given():
    config = cache_settings(
        cache_url="redis://cache.internal:6379/2",
        cache_dir="/var/cache/catalog",
        page_seconds=300,
        page_max_bytes=1,
        page_max_entry_bytes=1,
    )

    assert {alias: c["BACKEND"] for alias, c in config.items()} == {
        "default": "django.core.cache.backends.redis.RedisCache",
        "pages": "django.core.cache.backends.redis.RedisCache",
    }
    assert config["pages"]["LOCATION"] == "redis://cache.internal:6379/2"
    assert config["pages"]["KEY_PREFIX"] != config["default"]["KEY_PREFIX"]


def test_without_a_url_pages_stay_in_process_and_charts_on_disk():
    config = cache_settings(
        cache_url="",
        cache_dir="/var/cache/catalog",
        page_seconds=0,
        page_max_bytes=10,
        page_max_entry_bytes=5,
    )

    assert config["pages"]["BACKEND"] == "catalog.bounded_cache.BytesBoundedLocMemCache"
    assert config["pages"]["TIMEOUT"] is None
    assert config["default"]["LOCATION"] == "/var/cache/catalog"


@pytest.mark.django_db
def test_a_page_rendered_by_one_worker_is_served_by_another(
    shared_caches, settings, seed_world, django_user_model
):
    alice = django_user_model.objects.create_user("alice")
    bob = django_user_model.objects.create_user("bob")
    url = reverse("catalog:experiment_detail", args=["4"])
    first, second = Client(), Client()
    first.force_login(alice)
    second.force_login(bob)

    miss = first.get(url)
    stored = list(redis_client().scan_iter(match=f"{shared_caches}-pages:*"))
    # The other worker: its own process memory is empty; Redis is what they share.
    caches["pages"].close()
    hit = second.get(url)

    assert miss[STATUS_HEADER] == "miss" and hit[STATUS_HEADER] == "hit"
    assert len(stored) == 1
    assert another_worker(settings, "pages").get(stored[0].decode().split(":", 2)[-1]) is not None
    # The per-user header is still each reader's own.
    assert b"bob" in hit.content and b"alice" not in hit.content.split(b"<main", 1)[0]


@pytest.mark.django_db
def test_a_new_sync_is_a_new_key_for_every_worker(shared_caches, seed_world, django_user_model):
    reader = Client()
    reader.force_login(django_user_model.objects.create_user("reader"))
    url = reverse("catalog:home")
    assert reader.get(url)[STATUS_HEADER] == "miss"
    assert reader.get(url)[STATUS_HEADER] == "hit"

    make_sync_run(status=SyncRun.Status.OK)

    assert reader.get(url)[STATUS_HEADER] == "miss"


@pytest.mark.django_db
def test_charts_are_cached_in_redis_too(shared_caches, seed_world, django_user_model):
    reader = Client()
    reader.force_login(django_user_model.objects.create_user("reader"))

    url = reverse("catalog:chart_experiment_runs", args=["4"]) + "?metric=accuracy"
    response = reader.get(url)

    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert list(redis_client().scan_iter(match=f"{shared_caches}-default:*"))
