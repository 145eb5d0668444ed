from django import forms
from django.utils.translation import gettext_lazy as _

from bankcrm.forms import BootstrapMixin
from bankcrm.models import Branch
from compliance.forms import EARLIEST
from compliance.suitability_models import Purpose, Sale
from customers.models import Product

CHECK, RECORD = "check", "record"


class SaleForm(BootstrapMixin, forms.Form):
    """A sale as the RM enters it: first product, amount and channel (the check), then the
    evidence the verdict asks for. Which evidence is required is decided by the service
    from the verdict (compliance.sales.sale_record), not here."""

    product = forms.ModelChoiceField(label=_("Product"), queryset=Product.objects.none())
    amount = forms.DecimalField(label=_("Amount"), max_digits=18, decimal_places=2, min_value=0.01)
    channel = forms.ChoiceField(label=_("Channel"), choices=Sale.Channel.choices)
    customer_insists = forms.BooleanField(
        label=_("The customer insists on this product although its risk is above their "
                "tolerance, and confirms the mismatch warning in writing"),
        required=False,
    )  # fmt: skip
    confirmation_method = forms.ChoiceField(
        label=_("The customer confirmed the warning by"),
        choices=Sale.Confirmation.choices,
        required=False,
    )
    confirmation_ref = forms.CharField(
        label=_("Signed form number or OTP reference"), max_length=64, required=False
    )
    recording_ref = forms.CharField(
        label=_("Dual recording (双录) reference"), max_length=64, required=False
    )
    recording_sha256 = forms.CharField(
        label=_("Dual recording SHA-256"), max_length=64, required=False
    )

    def __init__(self, *args, products, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["product"].queryset = products

    def clean(self):
        data = super().clean()
        product, amount = data.get("product"), data.get("amount")
        if product is not None and amount is not None and amount < product.min_amount:
            self.add_error(
                "amount",
                _("At least %(minimum)s %(currency)s.")
                % {"minimum": product.min_amount, "currency": product.currency},
            )
        return data

    def clean_confirmation_method(self):
        value = self.cleaned_data.get("confirmation_method")
        if self.data.get("action") == RECORD and not value:
            raise forms.ValidationError(_("Say how the customer confirmed the warning."))
        return value


class SuitabilityFilterForm(BootstrapMixin, forms.Form):
    date_from = forms.DateField(
        label=_("From"), required=False, validators=[EARLIEST],
        widget=forms.DateInput(attrs={"type": "date"}),
    )  # fmt: skip
    date_to = forms.DateField(
        label=_("To"), required=False, validators=[EARLIEST],
        widget=forms.DateInput(attrs={"type": "date"}),
    )  # fmt: skip
    verdict = forms.ChoiceField(
        label=_("Verdict"),
        required=False,
        choices=[("", _("All")), ("blocked", _("Blocked")), ("allowed", _("Sales"))],
    )
    code = forms.ChoiceField(label=_("Code"), required=False)
    purpose = forms.ChoiceField(
        label=_("Purpose"), required=False, choices=[("", _("All")), *Purpose.choices]
    )
    product = forms.CharField(label=_("Product code"), required=False, max_length=32)
    rm = forms.CharField(label=_("By (username)"), required=False, max_length=150)
    branch = forms.ModelChoiceField(label=_("Branch"), required=False, queryset=Branch.objects)

    CODES = [
        "allowed", "risk_exceeds_tolerance", "assessment_missing_or_expired", "lowest_category",
        "wealth_hard_block", "outside_sale_window", "product_not_on_sale", "below_min_tier",
        "wrong_customer_kind", "severe_warning_marketing", "set_run",
    ]  # fmt: skip

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["code"].choices = [("", _("All")), *[(c, c) for c in self.CODES]]
