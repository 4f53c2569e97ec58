from django.apps import AppConfig


class CatalogConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "catalog"
    verbose_name = "SmartMaint catalogue"

    def ready(self) -> None:
        from catalog.tables_signatures import remember_signatures

        remember_signatures()
