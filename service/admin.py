from django.contrib import admin

from service.models import Ticket


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    list_display = ["number", "subject", "customer", "priority", "status", "assignee", "due_at"]
    list_filter = ["priority", "status", "channel"]
    search_fields = ["=number", "subject", "=customer__cif"]
    list_select_related = ["customer", "assignee"]
    raw_id_fields = ["customer", "assignee"]
