from django.contrib import admin

from analytics.models import (
    CustomerValue,
    FeedbackFollowUp,
    KpiRun,
    ModelVersion,
    NeedPhrase,
    NightlyRun,
    ProductMargin,
    ReportDefinition,
    ReportRun,
    TextSentiment,
    TierThreshold,
    ValuePolicy,
)
from bankcrm.admin_mixins import ReadOnlyAdmin


@admin.register(TierThreshold)
class TierThresholdAdmin(admin.ModelAdmin):
    list_display = ["name", "name_en", "code", "min_value", "customer_tier"]


@admin.register(ProductMargin)
class ProductMarginAdmin(admin.ModelAdmin):
    list_display = ["kind", "margin_percent", "fee_per_year"]


@admin.register(ValuePolicy)
class ValuePolicyAdmin(admin.ModelAdmin):
    list_display = ["__str__", "stickiness_weight", "discount_rate", "horizon_years"]

    def has_add_permission(self, request):
        return not ValuePolicy.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ModelVersion)
class ModelVersionAdmin(ReadOnlyAdmin):
    """Read-only: versions are made by model_train and activated on the model page."""

    list_display = ["name", "version", "status", "source", "trained_by", "activated_by"]
    list_filter = ["name", "status", "source"]
    exclude = ["model_text", "baseline"]


@admin.register(NightlyRun)
class NightlyRunAdmin(ReadOnlyAdmin):
    list_display = ["day", "status", "customers", "scores", "tier_changes", "finished_at"]


@admin.register(CustomerValue)
class CustomerValueAdmin(ReadOnlyAdmin):
    list_display = ["customer", "tier", "aum", "value_score", "clv", "computed_on"]
    list_filter = ["tier"]
    raw_id_fields = ["customer"]


@admin.register(ReportDefinition)
class ReportDefinitionAdmin(admin.ModelAdmin):
    list_display = ["name", "dashboard", "branch", "format", "schedule", "is_active"]
    list_filter = ["dashboard", "format", "schedule", "is_active"]


@admin.register(ReportRun)
class ReportRunAdmin(ReadOnlyAdmin):
    """Read-only, and without the file: recipients download it on the reports page, where
    the download is audited. A failed run's error is shown here, to administrators only
    (the reports page says only that it failed)."""

    list_display = ["definition", "period", "status", "failure", "size", "created_at",
                    "finished_at"]  # fmt: skip
    list_filter = ["status"]
    exclude = ["content"]


@admin.register(KpiRun)
class KpiRunAdmin(ReadOnlyAdmin):
    list_display = ["day", "mode", "changes", "seconds", "runs", "tracked", "finished_at"]


@admin.register(NeedPhrase)
class NeedPhraseAdmin(admin.ModelAdmin):
    """The words of interaction notes that point to a product need (analytics.needs)."""

    list_display = ["phrase", "product_kind", "product", "is_active"]
    list_filter = ["product_kind", "is_active"]
    search_fields = ["phrase"]
    autocomplete_fields = ["product"]


@admin.register(TextSentiment)
class TextSentimentAdmin(ReadOnlyAdmin):
    list_display = ["kind", "source_id", "label", "score", "model_version", "computed_at"]
    list_filter = ["kind", "label"]
    raw_id_fields = ["customer"]


@admin.register(FeedbackFollowUp)
class FeedbackFollowUpAdmin(ReadOnlyAdmin):
    """Raised by a negative satisfaction comment; done on the supervisor page."""

    list_display = ["ticket", "customer", "satisfaction", "score", "created_at", "done_at"]
    raw_id_fields = ["ticket", "customer"]
