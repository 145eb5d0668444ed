"""Admin: the lists compliance keeps (prohibited phrases), the frequency cap, lifecycle
journeys; campaigns and deliveries read-only (they change only through the services)."""

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from bankcrm.admin_mixins import ReadOnlyAdmin, RequeueMixin
from bankcrm.audit import AuditContext
from marketing.models import Campaign, Delivery, FrequencyCap, Journey, ProhibitedPhrase
from marketing.sending import DELIVERIES


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


@admin.register(Campaign)
class CampaignAdmin(ReadOnlyAdmin):
    list_display = ("name", "status", "created_by", "approved_by", "created_at")
    list_filter = ("status",)
    search_fields = ("name",)


@admin.register(Delivery)
class DeliveryAdmin(RequeueMixin, ReadOnlyAdmin):
    list_display = ("idempotency_key", "channel", "status", "left_out_reason", "attempts",
                    "sent_at")  # fmt: skip
    list_filter = ("status", "channel", "left_out_reason")
    search_fields = ("idempotency_key",)
    raw_id_fields = ("customer", "campaign", "step", "firing", "variant")
    actions = ["send_again"]

    @admin.action(description=_("Send again (given-up messages)"), permissions=["requeue"])
    def send_again(self, request, queryset):
        count = DELIVERIES.requeue(
            list(queryset.values_list("pk", flat=True)),
            actor=request.user, context=AuditContext.of(request),
        )  # fmt: skip
        self.message_user(request, _("%(count)d messages queued again.") % {"count": count},
                          messages.SUCCESS)  # fmt: skip
