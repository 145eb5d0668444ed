from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from bankcrm.forms import BootstrapMixin
from customers.models import Customer
from service.models import Category, KnowledgeArticle, Macro, Priority, Queue, Ticket


class TicketForm(BootstrapMixin, forms.Form):
    """A new ticket. Without a customer from the 360 page, the caller is found by CIF or
    mobile number (exact match only: agents do not browse customers)."""

    customer_ref = forms.CharField(
        label=_("Customer (CIF or mobile number)"), max_length=30, required=False
    )
    subject = forms.CharField(label=_("Subject"), max_length=200)
    description = forms.CharField(
        label=_("Description"), required=False, max_length=5000,
        widget=forms.Textarea(attrs={"rows": 4}),
    )  # fmt: skip
    channel = forms.ChoiceField(label=_("Channel"), choices=Ticket.Channel.choices)
    category = forms.ChoiceField(label=_("Category"), choices=Category.choices)
    priority = forms.ChoiceField(
        label=_("Priority"), required=False,
        choices=[("", _("By routing rules (default P3)")), *Priority.choices],
    )  # fmt: skip
    queue = forms.ModelChoiceField(
        label=_("Queue"), required=False, queryset=Queue.objects.filter(is_active=True),
        empty_label=_("By routing rules"),
    )  # fmt: skip

    def __init__(self, *args, customer: Customer | None = None, lookup=None, **kwargs):
        """`lookup(ref)` finds the caller (customers.access.customer_for_intake, which logs
        every lookup); not needed when the ticket is opened from the customer's page."""
        super().__init__(*args, **kwargs)
        self.customer = customer
        self.lookup = lookup
        if customer is not None:
            del self.fields["customer_ref"]

    def clean_customer_ref(self):
        ref = self.cleaned_data["customer_ref"].strip()
        if not ref:
            raise ValidationError(_("Enter the customer's CIF or mobile number."))
        self.customer = self.lookup(ref)
        if self.customer is None:
            raise ValidationError(_("No single customer has this CIF or mobile number."))
        return ref


class ReplyForm(BootstrapMixin, forms.Form):
    body = forms.CharField(
        label=_("Message"), max_length=2000, widget=forms.Textarea(attrs={"rows": 4})
    )
    internal = forms.BooleanField(
        label=_("Internal note (not sent to the customer)"), required=False
    )


class StatusForm(forms.Form):
    to = forms.ChoiceField(
        choices=[
            (Ticket.Status.IN_PROGRESS, Ticket.Status.IN_PROGRESS.label),
            (Ticket.Status.PENDING_CUSTOMER, Ticket.Status.PENDING_CUSTOMER.label),
            (Ticket.Status.CLOSED, Ticket.Status.CLOSED.label),
        ]
    )
    note = forms.CharField(required=False, max_length=500)


class ResolveForm(BootstrapMixin, forms.Form):
    resolution = forms.CharField(
        label=_("Resolution (sent to the customer)"), max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )  # fmt: skip


class ApprovalForm(BootstrapMixin, forms.Form):
    decision = forms.ChoiceField(
        label=pgettext_lazy("supervisor approval", "Decision"),
        choices=[("approve", _("Approve the resolution")), ("reject", _("Send back"))],
        widget=forms.RadioSelect,
    )
    note = forms.CharField(label=_("Note"), required=False, max_length=500)

    def clean(self):
        data = super().clean()
        if data.get("decision") == "reject" and not data.get("note"):
            self.add_error("note", _("Say why the resolution is sent back."))
        return data


class ReopenForm(BootstrapMixin, forms.Form):
    reason = forms.CharField(label=_("Why reopen"), max_length=500)


class AssignForm(BootstrapMixin, forms.Form):
    assignee = forms.ModelChoiceField(label=_("Assign to"), queryset=None)

    def __init__(self, *args, candidates, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = candidates


class MoveForm(BootstrapMixin, forms.Form):
    queue = forms.ModelChoiceField(
        label=_("Queue"), queryset=Queue.objects.filter(is_active=True), required=False
    )
    priority = forms.ChoiceField(
        label=_("Priority"), choices=[("", "—"), *Priority.choices], required=False
    )


class TakeNextForm(forms.Form):
    """Take next from one queue (its code), or from all the agent's queues."""

    queue = forms.SlugField(required=False, max_length=30)


class KnowledgeSearchForm(forms.Form):
    """The knowledge-base search, optionally from a ticket (to link what is found)."""

    q = forms.CharField(required=False)
    ticket = forms.IntegerField(required=False)

    def clean_q(self) -> str:
        return self.cleaned_data["q"][:100]  # longer queries are cut, as the box does


class ArticleLinkForm(forms.Form):
    article = forms.ModelChoiceField(queryset=KnowledgeArticle.objects.filter(is_published=True))


class MacroForm(forms.Form):
    macro = forms.ModelChoiceField(queryset=Macro.objects.filter(is_active=True))


class SurveyForm(forms.Form):
    score = forms.TypedChoiceField(
        label=_("How satisfied are you with how we handled your request?"),
        choices=[(n, str(n)) for n in range(5, 0, -1)],
        coerce=int,
        widget=forms.RadioSelect,
    )
    comment = forms.CharField(
        label=_("Anything you would like to tell us (optional)"), required=False,
        max_length=1000, widget=forms.Textarea(attrs={"rows": 3, "class": "form-control"}),
    )  # fmt: skip
