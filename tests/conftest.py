"""Fixtures shared by every test area. Area-specific fixtures live in tests/<area>/conftest.py."""

import pytest
from django.contrib.auth import get_user_model


@pytest.fixture
def user(db):
    """A logged-in-able ordinary (non-staff) user."""
    return get_user_model().objects.create_user("reader", password="reader-pass-123")


@pytest.fixture
def staff_user(db):
    """A staff user with every permission on the catalogue (a team lead)."""
    return get_user_model().objects.create_superuser("lead", password="lead-pass-123")


@pytest.fixture
def reader_client(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client
