"""The admin of what readers and staff keep around the change events.

* Feed tokens: staff see who has one and when a feed reader last used it, and revoke
  them (the row goes: the feed URL answers 404). Readers make their own, on their feed
  page; the admin shows only the start of a key.
* Webhooks: staff add and edit receivers (kinds and entity types as checkboxes, the
  experiment and model by id), with the URL checked by ``catalog.webhooks.targets``.
* Webhook deliveries: the log of each send, read-only, filtered by webhook.

Registered by ``catalog.admin`` (the module Django's admin discovers).
"""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html

from catalog.models import ChangeEvent, FeedToken, Webhook, WebhookDelivery
from catalog.webhooks.targets import webhook_url_problem

KEY_HINT_CHARS = 6


@admin.register(FeedToken)
class FeedTokenAdmin(admin.ModelAdmin):
    """Readers' feed keys: listed and revoked here, made by readers on their feed page."""

    list_display = ("user", "key_hint", "created_at", "last_used_at")
    list_select_related = ("user",)
    search_fields = ("user__username", "user__email")
    list_filter = (("last_used_at", admin.EmptyFieldListFilter),)
    fields = ("user", "key_hint", "created_at", "last_used_at")
    readonly_fields = fields
    actions = ("revoke",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="key")
    def key_hint(self, obj: FeedToken) -> str:
        return f"{obj.key[:KEY_HINT_CHARS]}…"

    @admin.action(description="Revoke the selected feed keys", permissions=["delete"])
    def revoke(self, request, queryset):
        revoked, _ = queryset.delete()
        self.message_user(
            request,
            f"Revoked {revoked} feed key{'s' if revoked != 1 else ''}: their feeds answer 404.",
            messages.SUCCESS,
        )


class WebhookForm(forms.ModelForm):
    """A webhook's settings; the URL may not point at the catalogue or its machine."""

    url = forms.URLField(
        max_length=Webhook._meta.get_field("url").max_length,
        assume_scheme="https",
        help_text=Webhook._meta.get_field("url").help_text,
    )
    kinds = forms.MultipleChoiceField(
        choices=ChangeEvent.Kind.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="None ticked: every kind.",
    )
    entity_types = forms.MultipleChoiceField(
        choices=ChangeEvent.Entity.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="None ticked: every entity type.",
    )
    # Set per request by WebhookAdmin.get_form: the host the admin was reached by.
    request_host: str | None = None

    class Meta:
        model = Webhook
        fields = (
            "name",
            "url",
            "active",
            "kinds",
            "entity_types",
            "experiment",
            "registered_model",
            "secret",
        )

    def clean_url(self) -> str:
        url = self.cleaned_data["url"]
        problem = webhook_url_problem(url, request_host=self.request_host)
        if problem:
            raise forms.ValidationError(problem)
        return url


@admin.register(Webhook)
class WebhookAdmin(admin.ModelAdmin):
    """Receivers of change events: where, which events, and a link to their delivery log."""

    form = WebhookForm
    list_display = ("name", "url", "active", "wanted", "created_at", "delivery_log")
    list_filter = ("active",)
    search_fields = ("name", "url")
    raw_id_fields = ("experiment", "registered_model")
    readonly_fields = ("created_at", "delivery_log")

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        form.request_host = request.get_host()
        return form

    @admin.display(description="events")
    def wanted(self, obj: Webhook) -> str:
        kinds = ", ".join(obj.kinds) if obj.kinds else "every kind"
        entities = ", ".join(obj.entity_types) if obj.entity_types else "every entity"
        return f"{kinds}; {entities}"

    @admin.display(description="deliveries")
    def delivery_log(self, obj: Webhook) -> str:
        if obj.pk is None:
            return "-"
        url = reverse("admin:catalog_webhookdelivery_changelist")
        return format_html('<a href="{}?webhook__id__exact={}">Delivery log</a>', url, obj.pk)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    """Each send of a sync's events to a webhook: read-only, written by the sync."""

    list_display = (
        "pk",
        "webhook",
        "sync_run_id",
        "status",
        "attempts",
        "response_status",
        "next_attempt_at",
        "delivered_at",
        "created_at",
    )
    list_filter = ("status", "webhook")
    list_select_related = ("webhook",)
    show_full_result_count = False
    fields = (
        "webhook",
        "sync_run",
        "status",
        "attempts",
        "response_status",
        "last_error",
        "next_attempt_at",
        "delivered_at",
        "created_at",
        "body",
    )
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="body sent")
    def body(self, obj: WebhookDelivery) -> str:
        text = json.dumps(obj.payload, indent=2, ensure_ascii=False)
        return format_html("<pre>{}</pre>", text)
