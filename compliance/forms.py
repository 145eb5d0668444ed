from datetime import date

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.utils.translation import gettext_lazy as _

from bankcrm.forms import BootstrapMixin
from bankcrm.models import AccessLog, SecurityEvent, User
from compliance import audited
from compliance.models import AccessAlert, DataChange, RiskWarning, RiskWarningKind, Severity
from customers.models import Customer

# No audit trail is older; year 1 in Beijing time is before year 1 in UTC (no such date).
EARLIEST = MinValueValidator(date(1900, 1, 1), message=_("Enter a date from 1900 on."))


class AuditFilterForm(BootstrapMixin, forms.Form):
    """What compliance looks for: reads (views, reveals, exports, searches), writes, or
    sign-in and security events, by customer (CIF), actor (username), action, object type,
    date range and IP."""

    kind = forms.ChoiceField(
        label=_("Records"),
        choices=[
            ("reads", _("Sensitive reads")),
            ("writes", _("Data changes")),
            ("security", _("Sign-ins and security")),
        ],
        initial="reads",
        required=False,
    )
    customer = forms.CharField(label=_("Customer (CIF)"), max_length=32, required=False)
    actor = forms.CharField(label=_("Actor (username)"), max_length=150, required=False)
    action = forms.ChoiceField(
        label=_("Action"),
        required=False,
        choices=[
            ("", _("Any")),
            (_("Sensitive reads"), AccessLog.Action.choices),
            (_("Data changes"), DataChange.Op.choices),
            (_("Sign-ins and security"), SecurityEvent.Kind.choices),
        ],
    )
    object_type = forms.ChoiceField(
        label=_("Object type"), required=False, choices=[("", _("Any")), *audited.choices()]
    )
    since = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}),
        validators=[EARLIEST],
    )  # fmt: skip
    until = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}),
        validators=[EARLIEST],
    )  # fmt: skip
    ip = forms.GenericIPAddressField(label=_("IP address"), required=False)

    def clean_customer(self):
        cif = self.cleaned_data["customer"].strip().upper()
        if not cif:
            return None
        customer = Customer.objects.filter(cif=cif).only("pk", "cif", "name").first()
        if customer is None:
            raise ValidationError(_("No customer has this CIF."))
        return customer

    def clean_actor(self):
        username = self.cleaned_data["actor"].strip()
        if not username:
            return None
        user = User.objects.filter(username=username).first()
        if user is None:
            raise ValidationError(_("No user has this username."))
        return user

    def clean(self):
        data = super().clean()
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            self.add_error("until", _("The end is before the start."))
        return data


class ReviewForm(BootstrapMixin, forms.Form):
    decision = forms.ChoiceField(
        label=_("Finding"),
        choices=[
            (AccessAlert.Status.DISMISSED, _("Legitimate: the reads were needed for work")),
            (AccessAlert.Status.CONFIRMED, _("Misuse: escalate under the bank's procedure")),
        ],
        widget=forms.RadioSelect,
    )
    note = forms.CharField(
        label=_("What was found"), min_length=10, max_length=2000, widget=forms.Textarea(
            attrs={"rows": 3}
        ),
    )  # fmt: skip
    unfreeze = forms.BooleanField(label=_("Lift the account's freeze"), required=False)


class FreezeForm(BootstrapMixin, forms.Form):
    reason = forms.CharField(label=_("Reason"), min_length=10, max_length=300)


class WarningFilterForm(BootstrapMixin, forms.Form):
    status = forms.ChoiceField(
        label=_("Status"), required=False,
        choices=[("", _("Any status")), *RiskWarning.Status.choices],
    )  # fmt: skip
    kind = forms.ModelChoiceField(
        label=_("Kind"), required=False, queryset=RiskWarningKind.objects.all(),
        empty_label=_("Any kind"),
    )  # fmt: skip
    severity = forms.TypedChoiceField(
        label=_("Severity"), required=False, coerce=int, empty_value=None,
        choices=[("", _("Any severity")), *Severity.choices],
    )  # fmt: skip
    cif = forms.CharField(label=_("Customer CIF"), required=False, max_length=20)


class WarningClearForm(BootstrapMixin, forms.Form):
    reason = forms.CharField(
        label=_("Why it no longer applies"), min_length=5, max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )  # fmt: skip
