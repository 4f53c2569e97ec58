"""Artifact folders, files, previews and bytes (see the artifacts work in issue 5)."""

urlpatterns: list = []
