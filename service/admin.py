from django.contrib import admin

from service.models import BusinessCalendar, CalendarException, CalendarHours, Ticket


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    list_display = ["number", "subject", "customer", "priority", "status", "assignee", "due_at"]
    list_filter = ["priority", "status", "channel"]
    search_fields = ["=number", "subject", "=customer__cif"]
    list_select_related = ["customer", "assignee"]
    raw_id_fields = ["customer", "assignee"]


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
