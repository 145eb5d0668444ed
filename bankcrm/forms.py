from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
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
