from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from bankcrm.admin_mixins import ReadOnlyAdmin, RequeueMixin
from bankcrm.audit import AuditContext
from service import notify
from service.models import (
    BusinessCalendar,
    CalendarException,
    CalendarHours,
    KnowledgeArticle,
    Macro,
    Notification,
    Queue,
    RoutingRule,
    SlaMilestone,
    SlaPolicy,
    Survey,
    Ticket,
    TicketEvent,
)


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class TicketEventInline(ReadOnlyInline):
    model = TicketEvent
    fields = ["at", "actor", "kind", "old", "new", "body"]
    readonly_fields = fields


class SlaMilestoneInline(ReadOnlyInline):
    model = SlaMilestone
    fields = ["kind", "at", "due_at", "notified"]
    readonly_fields = fields


@admin.register(Ticket)
class TicketAdmin(ReadOnlyAdmin):
    """Tickets are worked on the service desk pages, where every change goes through the
    services (history, clocks, messages); admin shows them and their history only."""

    list_display = ["number", "subject", "customer", "category", "priority", "status", "queue",
                    "assignee", "due_at", "escalation_level"]  # fmt: skip
    list_filter = ["priority", "status", "category", "channel", "queue", "escalation_level"]
    search_fields = ["=number", "subject", "=customer__cif"]
    list_select_related = ["customer", "assignee", "queue"]
    date_hierarchy = "created_at"
    inlines = [SlaMilestoneInline, TicketEventInline]


class CalendarHoursInline(admin.TabularInline):
    model = CalendarHours
    extra = 0


class CalendarExceptionInline(admin.TabularInline):
    model = CalendarException
    extra = 0


@admin.register(BusinessCalendar)
class BusinessCalendarAdmin(admin.ModelAdmin):
    """Working hours, public holidays and make-up working days that SLA clocks run in."""

    list_display = ["name", "time_zone"]
    search_fields = ["name"]
    inlines = [CalendarHoursInline, CalendarExceptionInline]


@admin.register(Queue)
class QueueAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "calendar", "supervisor", "head", "is_default", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["code", "name"]
    filter_horizontal = ["members"]
    raw_id_fields = ["supervisor", "head"]


@admin.register(SlaPolicy)
class SlaPolicyAdmin(admin.ModelAdmin):
    list_display = ["priority", "category", "first_response", "resolution", "calendar"]
    list_filter = ["priority"]


@admin.register(RoutingRule)
class RoutingRuleAdmin(admin.ModelAdmin):
    """Rules are tried by order; the first that matches places the ticket."""

    list_display = ["order", "name", "keywords", "category", "set_priority", "set_queue",
                    "is_active"]  # fmt: skip
    list_display_links = ["name"]
    list_editable = ["order", "is_active"]
    list_filter = ["is_active", "set_priority", "set_queue"]
    search_fields = ["name", "keywords"]


@admin.register(Macro)
class MacroAdmin(admin.ModelAdmin):
    list_display = ["title", "category", "is_active"]
    list_filter = ["is_active", "category"]
    search_fields = ["title", "body"]


@admin.register(KnowledgeArticle)
class KnowledgeArticleAdmin(admin.ModelAdmin):
    list_display = ["title", "category", "is_published", "updated_at"]
    list_filter = ["is_published", "category"]
    search_fields = ["title", "body"]
    exclude = ["tickets"]


@admin.register(Notification)
class NotificationAdmin(RequeueMixin, ReadOnlyAdmin):
    """The outbox. Addresses are not here: they are read at sending time."""

    list_display = ["key", "channel", "status", "attempts", "created_at", "next_attempt_at",
                    "sent_at", "provider", "last_error"]  # fmt: skip
    list_filter = ["status", "channel", "provider"]
    search_fields = ["=key", "=ticket__number"]
    actions = ["send_again"]

    @admin.action(description=_("Send again (given-up messages)"), permissions=["requeue"])
    def send_again(self, request, queryset):
        count = notify.notifications_retry(
            ids=list(queryset.values_list("pk", flat=True)),
            actor=request.user,
            context=AuditContext.of(request),
        )
        self.message_user(request, _("%(count)d messages queued again.") % {"count": count},
                          messages.SUCCESS)  # fmt: skip


@admin.register(Survey)
class SurveyAdmin(admin.ModelAdmin):
    list_display = ["ticket", "sent_at", "answered_at", "score"]
    list_filter = ["score"]
    readonly_fields = ["ticket", "sent_at", "expires_at", "score", "comment", "answered_at"]
    exclude = ["token_hash"]

    def has_add_permission(self, request):
        return False
