from datetime import date

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils.translation import gettext_lazy as _


class LoginForm(AuthenticationForm):
    username = forms.CharField(
        label=_("Username"),
        max_length=150,
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "username"}),
    )
    error_messages = {
        **AuthenticationForm.error_messages,
        "frozen": _(
            "This account is frozen while compliance reviews its recent activity. "
            "Please contact the compliance department."
        ),
    }

    def clean(self):
        try:
            return super().clean()
        except ValidationError:
            # Say why only to someone who knows the password; others learn nothing.
            from bankcrm.models import User

            frozen = User.objects.filter(
                username=self.cleaned_data.get("username"), frozen_at__isnull=False
            ).first()
            if frozen is not None and frozen.check_password(self.cleaned_data.get("password")):
                raise ValidationError(self.error_messages["frozen"], code="frozen") from None
            raise


class TokenForm(forms.Form):
    token = forms.RegexField(
        label=_("Six-digit code"),
        regex=r"^\d{6}$",
        error_messages={"invalid": _("Enter the six digits shown in your authenticator app.")},
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )


class BoundedDateField(forms.DateField):
    """A date a bank's pages can compute with: from 1900 to 2100. Python's dates run to
    9999-12-31, where "the day after" (an inclusive end date) overflows."""

    EARLIEST, LATEST = date(1900, 1, 1), date(2100, 12, 31)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        message = _("Enter a date between %(earliest)s and %(latest)s.") % {
            "earliest": self.EARLIEST.isoformat(),
            "latest": self.LATEST.isoformat(),
        }
        self.validators += [
            MinValueValidator(self.EARLIEST, message=message),
            MaxValueValidator(self.LATEST, message=message),
        ]


class BootstrapMixin:
    """Bootstrap classes on every widget, so templates render fields with `as_widget`."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, forms.CheckboxInput | forms.RadioSelect):
                continue
            css = "form-select" if isinstance(widget, forms.Select) else "form-control"
            widget.attrs.setdefault("class", f"{css} form-control-sm")


class NotificationReadForm(forms.Form):
    """Which message to mark read (and open); none: all of them."""

    id = forms.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
