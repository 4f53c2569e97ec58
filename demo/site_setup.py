"""Prepare the catalogue's database for the demo: migrate, then the demo login.

Run as ``python -m demo.site_setup`` with the demo's environment (``demo.serve`` does):
one Django start-up for both steps.
"""

from __future__ import annotations

DEMO_USERNAME = "demo"
DEMO_PASSWORD = "demo"  # noqa: S105 - the demo's published login, never a real one


def main() -> None:
    """Apply migrations and create (or reset) the demo staff user."""
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    user, _ = get_user_model().objects.get_or_create(username=DEMO_USERNAME)
    # Staff and superuser so the demo also shows the admin's curated fields.
    user.is_staff = True
    user.is_superuser = True
    user.set_password(DEMO_PASSWORD)
    user.save()


if __name__ == "__main__":
    main()
