"""The home page: the seed's quick-reference table, live."""

from django.views.generic import TemplateView

from catalog.models import Experiment, RegisteredModel


class HomeView(TemplateView):
    template_name = "catalog/home.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["experiment_count"] = Experiment.objects.filter(missing_since=None).count()
        context["model_count"] = RegisteredModel.objects.filter(missing_since=None).count()
        return context
