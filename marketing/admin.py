"""Admin: the lists compliance keeps (prohibited phrases), the frequency cap, lifecycle
journeys; campaigns and deliveries read-only (they change only through the services)."""

from django.contrib import admin

from marketing.models import Campaign, Delivery, FrequencyCap, Journey, ProhibitedPhrase


@admin.register(ProhibitedPhrase)
class ProhibitedPhraseAdmin(admin.ModelAdmin):
    list_display = ("phrase", "reason", "is_active", "created_at")
    list_filter = ("is_active",)
    search_fields = ("phrase",)


@admin.register(FrequencyCap)
class FrequencyCapAdmin(admin.ModelAdmin):
    list_display = ("max_messages", "window_days", "is_active", "updated_at")


@admin.register(Journey)
class JourneyAdmin(admin.ModelAdmin):
    list_display = ("name", "trigger", "days_ahead", "channel", "is_active")
    list_filter = ("trigger", "channel", "is_active")
    search_fields = ("name",)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Campaign)
class CampaignAdmin(ReadOnlyAdmin):
    list_display = ("name", "status", "created_by", "approved_by", "created_at")
    list_filter = ("status",)
    search_fields = ("name",)


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = ("idempotency_key", "channel", "status", "left_out_reason", "attempts",
                    "sent_at")  # fmt: skip
    list_filter = ("status", "channel", "left_out_reason")
    search_fields = ("idempotency_key",)
    raw_id_fields = ("customer", "campaign", "step", "firing", "variant")
