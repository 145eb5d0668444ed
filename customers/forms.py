from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext

from bankcrm import registry
from bankcrm.forms import BootstrapMixin, BoundedDateField
from bankcrm.validators import normalise_mobile
from customers import imports
from customers.models import (
    Consent,
    Customer,
    ImportBatch,
    Interaction,
    ProductKind,
    ProductRisk,
    RiskProfile,
)


class CustomerFilterForm(BootstrapMixin, forms.Form):
    tier = forms.ChoiceField(
        label=_("Value tier"),
        choices=[("", _("All tiers")), *Customer.Tier.choices],
        required=False,
    )
    lifecycle = forms.ChoiceField(
        label=_("Lifecycle"),
        choices=[("", _("All stages")), *Customer.Lifecycle.choices],
        required=False,
    )
    risk_level = forms.TypedChoiceField(
        label=_("Risk tolerance"),
        choices=[("", _("Any risk tolerance")), *RiskProfile.Level.choices],
        coerce=int,
        empty_value=None,
        required=False,
    )
    tag = forms.CharField(label=_("Tag"), required=False, max_length=30)
    kyc_expiring = forms.BooleanField(label=_("KYC due in 30 days"), required=False)
    sort = forms.ChoiceField(
        label=_("Sort by"),
        required=False,
        choices=[
            ("cif", _("CIF number")),
            ("name", _("Name")),
            ("tier", _("Value tier")),
            ("kyc", _("KYC expiry")),
            ("newest", _("Newest first")),
        ],
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Check boxes of higher apps (bankcrm.registry.CUSTOMER_LIST_FILTERS): compliance's
        # "with risk warnings".
        self.extra_filters = []
        for name, list_filter in registry.CUSTOMER_LIST_FILTERS.items():
            self.fields[name] = forms.BooleanField(label=list_filter.label, required=False)
            self.extra_filters.append(name)


class SearchForm(forms.Form):
    """The search box: what was typed, at most 100 characters."""

    q = forms.CharField(required=False, max_length=100, strip=True)


class InteractionForm(BootstrapMixin, forms.ModelForm):
    class Meta:
        model = Interaction
        fields = ["channel", "direction", "subject", "notes", "follow_up_on", "confidential"]
        widgets = {
            "follow_up_on": forms.DateInput(attrs={"type": "date"}),
            "notes": forms.Textarea(attrs={"rows": 3}),
        }


class ConsentForm(BootstrapMixin, forms.ModelForm):
    granted = forms.TypedChoiceField(
        label=_("Decision"),
        choices=[("1", _("Granted")), ("0", _("Withdrawn"))],
        coerce=lambda value: value == "1",
    )

    class Meta:
        model = Consent
        fields = ["purpose", "channel", "granted", "source"]
        help_texts = {"source": _("Where the customer said so, e.g. signed form at branch.")}


CONTACT_FIELDS = ("mobile", "email", "address")


class ContactForm(BootstrapMixin, forms.Form):
    """New contact details. The current ones are shown masked, as everywhere else: an empty
    field keeps the current value, "remove" clears it. Seeing a full value is a reveal,
    with its reason (RevealForm), never a side effect of opening this form."""

    mobile = forms.CharField(label=_("New mobile"), required=False, max_length=20)
    clear_mobile = forms.BooleanField(label=_("Remove the mobile number"), required=False)
    # The masked copy (email_masked) is as long as the address: the column's limit holds.
    email = forms.EmailField(
        label=_("New e-mail"), required=False,
        max_length=Customer._meta.get_field("email_masked").max_length,
    )  # fmt: skip
    clear_email = forms.BooleanField(label=_("Remove the e-mail address"), required=False)
    address = forms.CharField(label=_("New address"), required=False, max_length=200)
    clear_address = forms.BooleanField(label=_("Remove the address"), required=False)

    def __init__(self, *args, current: dict[str, str], **kwargs):
        super().__init__(*args, **kwargs)
        for name in CONTACT_FIELDS:
            shown = current.get(name) or pgettext("contact detail", "none")
            self.fields[name].help_text = _("Now: %(value)s. Leave empty to keep it.") % {
                "value": shown
            }

    def clean_mobile(self):
        value = self.cleaned_data["mobile"].strip()
        return normalise_mobile(value) if value else None

    def clean_email(self):
        return self.cleaned_data["email"].strip().lower() or None

    def clean_address(self):
        return self.cleaned_data["address"].strip() or None

    def clean(self):
        data = super().clean()
        for name in CONTACT_FIELDS:
            if data.get(name) and data.get(f"clear_{name}"):
                self.add_error(name, _("Enter a new value or remove the current one, not both."))
        return data

    def changes(self) -> dict[str, str | None]:
        """{field: new value, or None to remove it} for the fields the user changed."""
        data = self.cleaned_data
        changed = {name: data[name] for name in CONTACT_FIELDS if data.get(name)}
        changed.update({name: None for name in CONTACT_FIELDS if data.get(f"clear_{name}")})
        return changed


class RevealForm(BootstrapMixin, forms.Form):
    field = forms.ChoiceField(
        label=_("Identifier"),
        choices=[
            ("national_id", _("ID number")),
            ("mobile", _("Mobile")),
            ("email", _("E-mail")),
        ],
    )
    reason = forms.CharField(
        label=_("Reason"),
        min_length=5,
        max_length=300,
        help_text=_("Why you need the full value; the reason is logged with your name."),
    )


class TransactionFilterForm(BootstrapMixin, forms.Form):
    date_from = BoundedDateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = BoundedDateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    kind = forms.CharField(label=_("Type"), required=False, max_length=40)
    # As the amount column holds them (numeric(18, 2)).
    min_amount = forms.DecimalField(
        label=_("Min amount"), required=False, min_value=0, max_digits=18, decimal_places=2
    )
    max_amount = forms.DecimalField(
        label=_("Max amount"), required=False, min_value=0, max_digits=18, decimal_places=2
    )
    page = forms.IntegerField(required=False, min_value=1, max_value=10_000)

    def clean(self):
        data = super().clean()
        low, high = data.get("min_amount"), data.get("max_amount")
        if low is not None and high is not None and low > high:
            raise ValidationError(_("The minimum amount is above the maximum."))
        return data


class RiskQuestionnaireForm(BootstrapMixin, forms.Form):
    """One radio group per question of the active questionnaire, in the user's language."""

    def __init__(self, *args, questionnaire, language: str, **kwargs):
        super().__init__(*args, **kwargs)
        english = language.startswith("en")
        for question in questionnaire.questions:
            self.fields[question["key"]] = forms.TypedChoiceField(
                label=question["text_en" if english else "text"],
                choices=[
                    (str(i), option["label_en" if english else "label"])
                    for i, option in enumerate(question["options"])
                ],
                coerce=int,
                widget=forms.RadioSelect,
            )


class ImportUploadForm(BootstrapMixin, forms.Form):
    kind = forms.ChoiceField(label=_("What the file holds"), choices=ImportBatch.Kind.choices)
    file = forms.FileField(label=_("File"))

    def __init__(self, *args, kinds=None, **kwargs):
        super().__init__(*args, **kwargs)
        if kinds is not None:  # what this user may import (access.import_kinds)
            self.fields["kind"].choices = [c for c in ImportBatch.Kind.choices if c[0] in kinds]
        self.fields["file"].help_text = _(
            "CSV (UTF-8 or GB18030; comma, semicolon or tab separated) or Excel .xlsx (its "
            "first sheet), with a header row. At most %(mb)s MB, %(rows)s rows and "
            "%(chars)s characters a cell."
        ) % {
            "mb": imports.MAX_UPLOAD_BYTES // (1024 * 1024),
            "rows": f"{imports.MAX_ROWS:,}",
            "chars": f"{imports.MAX_CELL_CHARS:,}",
        }

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if not upload.name.lower().endswith((".csv", ".txt", ".xlsx")):
            raise ValidationError(_("Upload a .csv or .xlsx file."), code="extension")
        if upload.size > imports.MAX_UPLOAD_BYTES:
            raise ValidationError(too_large(), code="size")
        return upload


def too_large() -> str:
    return _("The file is larger than %(mb)s MB.") % {
        "mb": imports.MAX_UPLOAD_BYTES // (1024 * 1024)
    }


class DelegationForm(BootstrapMixin, forms.Form):
    MAX_DAYS = 90

    # A username, not a drop-down: a bank has thousands of RMs, and the 360 page should not
    # render them all.
    user = forms.CharField(label=_("Colleague (username)"), max_length=150)
    access = forms.ChoiceField(
        label=_("Access"),
        choices=[("view_customer", _("View")), ("change_customer", _("View and change"))],
    )
    expires_at = forms.DateTimeField(
        label=_("Until"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    reason = forms.CharField(label=_("Reason"), max_length=200, min_length=2)

    def __init__(self, *args, candidates=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.candidates = candidates

    def clean_user(self):
        user = self.candidates.filter(username=self.cleaned_data["user"].strip()).first()
        if user is None:
            raise ValidationError(
                _("No active relationship or branch manager has this username."), code="unknown"
            )
        return user

    def clean_expires_at(self):
        from django.utils import timezone

        value = self.cleaned_data["expires_at"]
        now = timezone.now()
        if value <= now:
            raise ValidationError(_("Choose a time in the future."), code="past")
        if value > now + timezone.timedelta(days=self.MAX_DAYS):
            raise ValidationError(
                _("A delegation lasts at most %(days)d days.") % {"days": self.MAX_DAYS},
                code="too_long",
            )
        return value


class ProductFilterForm(BootstrapMixin, forms.Form):
    kind = forms.ChoiceField(
        label=_("Product type"),
        choices=[("", _("All types")), *ProductKind.choices],
        required=False,
    )
    risk_level = forms.TypedChoiceField(
        label=_("Risk level"),
        choices=[("", _("Any risk level")), *ProductRisk.choices],
        coerce=int,
        empty_value=None,
        required=False,
    )
    on_sale = forms.BooleanField(label=_("On sale now"), required=False)
