from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from bankcrm.admin_mixins import ReadOnlyAdmin
from bankcrm.audit import AuditContext
from bankcrm.models import AccessLog
from bankcrm.roles import Role
from compliance.models import (
    AccessAlert,
    AccessRule,
    RiskSignal,
    RiskWarning,
    RiskWarningKind,
    Sale,
    SuitabilityCheck,
    SuitabilityRuleSet,
)
from compliance.suitability import ruleset_add_version
from customers.models import ProductKind


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


@admin.register(RiskWarningKind)
class RiskWarningKindAdmin(admin.ModelAdmin):
    """What can be signalled, how severe by default, what the RM is told to do and for how
    long a warning stays in force; every change is in the audit trail."""

    list_display = ["code", "name_zh", "name_en", "default_severity", "validity_days", "is_active"]
    list_filter = ["default_severity", "is_active"]
    search_fields = ["code", "name_zh", "name_en"]

    def get_readonly_fields(self, request, obj=None):
        # Sources and the internal sweep send the code: it is fixed once created.
        return ["code"] if obj is not None else []

    def has_delete_permission(self, request, obj=None):
        return False  # warnings refer to their kind: make it inactive instead


@admin.register(RiskWarning)
class RiskWarningAdmin(ReadOnlyAdmin):
    """Warnings are cleared on the compliance screens (/compliance/warnings/), with a reason."""

    list_display = ["opened_at", "customer", "kind", "severity", "status", "expires_at"]
    list_filter = ["status", "severity", "kind"]
    list_select_related = ["customer", "kind"]
    search_fields = ["customer__cif"]
    date_hierarchy = "opened_at"


@admin.register(RiskSignal)
class RiskSignalAdmin(ReadOnlyAdmin):
    list_display = ["received_at", "source", "signal_id", "customer", "kind", "severity", "outcome"]
    list_filter = ["source", "outcome", "kind"]
    list_select_related = ["customer", "kind"]
    search_fields = ["signal_id", "customer__cif"]
    date_hierarchy = "received_at"


# ---- suitability --------------------------------------------------------------------------


class SuitabilityRuleSetForm(forms.ModelForm):
    recording_kinds = forms.MultipleChoiceField(
        label=_("dual recording for product types"),
        choices=ProductKind.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = SuitabilityRuleSet
        fields = [
            "matrix", "cooling_off_hours", "special_care_age", "wealth_hard_block",
            "recording_min_risk", "recording_kinds", "effective_from", "note",
        ]  # fmt: skip

    def clean_matrix(self):
        matrix = self.cleaned_data["matrix"]
        levels = [str(level) for level in range(1, 6)]
        if not isinstance(matrix, dict) or sorted(matrix) != levels:
            raise forms.ValidationError(_("Give the highest product risk for each of C1 to C5."))
        values = []
        for level in levels:
            value = matrix[level]
            if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 5:
                raise forms.ValidationError(_("Product risks are whole numbers from 1 to 5."))
            values.append(value)
        if values != sorted(values):
            raise forms.ValidationError(
                _("A higher tolerance cannot admit less risk than a lower one.")
            )
        return matrix


@admin.register(SuitabilityRuleSet)
class SuitabilityRuleSetAdmin(admin.ModelAdmin):
    """Saving never changes a version: it adds the next one (the old stays, as checks name
    the version they applied; a trigger refuses UPDATE and DELETE anyway)."""

    form = SuitabilityRuleSetForm
    list_display = [
        "version", "effective_from", "cooling_off_hours", "special_care_age",
        "wealth_hard_block", "recording_min_risk", "created_by", "note",
    ]  # fmt: skip
    readonly_fields = ["version", "created_by", "created_at"]

    def has_delete_permission(self, request, obj=None):
        return False

    def get_changeform_initial_data(self, request):
        latest = SuitabilityRuleSet.objects.order_by("-version").first()
        if latest is None:
            return super().get_changeform_initial_data(request)
        return {name: getattr(latest, name) for name in SuitabilityRuleSetForm.Meta.fields
                if name not in ("effective_from", "note")}  # fmt: skip

    def save_model(self, request, obj, form, change):
        values = {
            name: form.cleaned_data[name]
            for name in SuitabilityRuleSetForm.Meta.fields
            if name not in ("effective_from", "note")
        }
        new = ruleset_add_version(
            actor=request.user, values=values, note=form.cleaned_data.get("note", ""),
            effective_from=form.cleaned_data.get("effective_from"),
            context=AuditContext.of(request),
        )  # fmt: skip
        obj.pk, obj.version = new.pk, new.version  # the admin's message and redirect
        obj._state.adding = False


@admin.register(SuitabilityCheck)
class SuitabilityCheckAdmin(ReadOnlyAdmin):
    list_display = ["at", "actor", "customer", "product", "purpose", "allowed", "code", "ruleset"]
    list_filter = ["allowed", "purpose", "code"]
    list_select_related = ["actor", "customer", "product", "ruleset"]
    raw_id_fields = ["customer", "product", "actor", "branch"]


@admin.register(Sale)
class SaleAdmin(ReadOnlyAdmin):
    list_display = ["reference", "recorded_at", "customer", "product", "amount", "status"]
    list_filter = ["status", "channel"]
    search_fields = ["reference"]
    list_select_related = ["customer", "product"]
