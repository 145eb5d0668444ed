from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from bankcrm.admin_mixins import ReadOnlyAdmin
from bankcrm.models import AccessLog
from bankcrm.roles import Role
from compliance.models import AccessAlert, AccessRule


class AccessRuleForm(forms.ModelForm):
    # Check boxes instead of the array field's comma-separated text box.
    actions = forms.MultipleChoiceField(
        label=_("reads counted"),
        choices=AccessLog.Action.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=AccessRule._meta.get_field("actions").help_text,
    )
    roles = forms.MultipleChoiceField(
        label=_("applies to roles"),
        choices=Role.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=AccessRule._meta.get_field("roles").help_text,
    )

    class Meta:
        model = AccessRule
        fields = [
            "name", "is_active", "measure", "actions", "min_tier", "threshold",
            "window_minutes", "roles", "freeze_account",
        ]  # fmt: skip

    def clean(self):
        data = super().clean()
        if data.get("measure") == AccessRule.Measure.EXPORTED_ROWS and (
            data.get("actions") or data.get("min_tier")
        ):
            raise forms.ValidationError(
                _("Reads counted and tiers apply to distinct customers only: clear them.")
            )
        return data


@admin.register(AccessRule)
class AccessRuleAdmin(admin.ModelAdmin):
    """Rules are changed here, and every change is in the audit trail (data changes)."""

    form = AccessRuleForm
    list_display = [
        "name", "is_active", "measure", "threshold", "window_minutes", "min_tier",
        "freeze_account",
    ]  # fmt: skip
    list_filter = ["is_active", "measure", "freeze_account"]
    search_fields = ["name"]

    def has_delete_permission(self, request, obj=None):
        # Alerts refer to their rule: switch a rule off instead.
        return False


@admin.register(AccessAlert)
class AccessAlertAdmin(ReadOnlyAdmin):
    """Alerts are reviewed on the compliance screens (/compliance/alerts/)."""

    list_display = ["raised_at", "user", "rule", "count", "threshold", "status", "froze_account"]
    list_filter = ["status", "rule", "froze_account"]
    list_select_related = ["user", "rule"]
    search_fields = ["user__username"]
    date_hierarchy = "raised_at"
