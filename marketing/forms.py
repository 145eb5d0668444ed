from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from bankcrm.forms import BootstrapMixin
from customers.models import Account, Product
from marketing.models import Campaign, Channel, Segment
from marketing.segments import GROUP_OPS, SEGMENT_FIELDS, clean_condition


class SegmentForm(BootstrapMixin, forms.Form):
    name = forms.CharField(label=_("Segment name"), max_length=120)
    description = forms.CharField(label=_("Description"), max_length=300, required=False)
    kind = forms.ChoiceField(
        label=_("Kind"),
        choices=[(k, label) for k, label in Segment.Kind.choices if k != Segment.Kind.SNAPSHOT],
    )


class ConditionForm(BootstrapMixin, forms.Form):
    """One condition for the group at `path`; its value inputs follow the chosen field."""

    path = forms.CharField(required=False, max_length=40, widget=forms.HiddenInput)
    field = forms.ChoiceField(label=_("Field"))
    op = forms.ChoiceField(label=_("Condition"), required=False)
    values = forms.MultipleChoiceField(label=_("Values"), required=False)
    value = forms.CharField(label=_("Value"), required=False, max_length=200)
    value2 = forms.CharField(label=_("and"), required=False, max_length=30)
    days = forms.IntegerField(
        label=_("Over the last (days)"), required=False, min_value=1, max_value=3650
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        groups: dict[str, list] = {}
        for spec in SEGMENT_FIELDS:
            groups.setdefault(str(spec.group), []).append((spec.key, spec.label))
        self.fields["field"].choices = [("", "—"), *groups.items()]
        key = self.data.get("field") or self.initial.get("field")
        self.spec = SEGMENT_FIELDS.get(key)
        if self.spec:
            self.fields["op"].choices = list(self.spec.operators.items())
            if self.spec.kind == "choice" and not self.spec.free:
                self.fields["values"].choices = self.spec.choices()
                self.fields["values"].widget.attrs["size"] = 6

    def clean(self):
        data = super().clean()
        if self.spec is None:
            raise ValidationError(_("Choose a field."))
        raw = {"field": self.spec.key, "op": data.get("op")}
        if self.spec.kind == "choice":
            raw["value"] = data.get("values") if not self.spec.free else data.get("value")
        elif data.get("op") == "between":
            raw["value"] = [data.get("value"), data.get("value2")]
        else:
            raw["value"] = data.get("value")
        if self.spec.window:
            raw["days"] = data.get("days")
        data["condition"] = clean_condition(raw)
        return data


class GroupForm(forms.Form):
    path = forms.CharField(required=False, max_length=40)
    op = forms.ChoiceField(choices=list(GROUP_OPS.items()))


class PathForm(forms.Form):
    path = forms.CharField(required=False, max_length=40)


class CifListForm(BootstrapMixin, forms.Form):
    file = forms.FileField(label=_("CSV of CIFs (first column)"), required=False)
    cifs = forms.CharField(
        label=_("or CIFs, one a line"), required=False, widget=forms.Textarea(attrs={"rows": 4})
    )

    MAX_BYTES = 2_000_000

    def clean(self):
        data = super().clean()
        upload = data.get("file")
        text = data.get("cifs") or ""
        if upload:
            if upload.size > self.MAX_BYTES:
                raise ValidationError(_("The file is too large."))
            try:
                text += "\n" + upload.read().decode("utf-8-sig")
            except UnicodeDecodeError:
                raise ValidationError(_("The file must be UTF-8 text.")) from None
        if not text.strip():
            raise ValidationError(_("Give a file or a list of CIFs."))
        data["text"] = text
        return data


class ProductChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return f"{obj.code} {obj.name} · R{obj.risk_level}"


class CampaignForm(BootstrapMixin, forms.Form):
    name = forms.CharField(label=_("Campaign name"), max_length=120)
    segment = forms.ModelChoiceField(label=_("Segment"), queryset=Segment.objects.none())
    channels = forms.MultipleChoiceField(
        label=_("Channels"), choices=Channel.choices, widget=forms.CheckboxSelectMultiple
    )
    subject = forms.CharField(label=_("Subject (e-mail, app)"), max_length=150, required=False)
    text_a = forms.CharField(
        label=_("Text (variant A, Chinese)"),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("{name} is replaced by the customer's name, {product} by the product."),
    )
    text_a_en = forms.CharField(
        label=_("Text (variant A, English)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    text_b = forms.CharField(
        label=_("Text (variant B, Chinese; empty for no A/B test)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    share_a = forms.IntegerField(
        label=_("Share of variant A (%)"), min_value=1, max_value=99, initial=50, required=False
    )
    control_percent = forms.IntegerField(
        label=_("Control group (%)"), min_value=0, max_value=50, initial=0
    )
    product = ProductChoiceField(
        label=_("Product"),
        queryset=Product.objects.none(),
        required=False,
        empty_label="—",
        help_text=_("A product on sale in the catalogue: only customers it suits are sent "
                    "the campaign, and its risk disclosure is attached."),
    )  # fmt: skip
    starts_at = forms.DateTimeField(
        label=_("Send from"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    cost_per_message = forms.DecimalField(
        label=_("Cost per message (yuan)"),
        min_value=0,
        max_digits=8,
        decimal_places=4,
        initial=Decimal("0.05"),
    )
    goal = forms.ChoiceField(
        label=_("Conversion goal"), choices=Campaign.Goal.choices, required=False
    )
    goal_account_kind = forms.ChoiceField(
        label=_("Account type"), required=False, choices=[("", "—"), *Account.Kind.choices]
    )
    goal_days = forms.IntegerField(label=_("Within (days)"), min_value=1, max_value=365, initial=30)
    revenue_per_conversion = forms.DecimalField(
        label=_("Revenue per conversion (yuan)"),
        min_value=0,
        max_digits=12,
        decimal_places=2,
        initial=0,
    )

    def __init__(self, *args, segments=None, products=None, **kwargs):
        super().__init__(*args, **kwargs)
        if segments is not None:
            self.fields["segment"].queryset = segments
        if products is not None:
            self.fields["product"].queryset = products

    def draft(self):
        from marketing.services import CampaignDraft

        d = self.cleaned_data
        texts = {("A", "zh-hans"): d["text_a"], ("A", "en"): d.get("text_a_en") or ""}
        variants = [("A", 100)]
        if (d.get("text_b") or "").strip():
            share = d.get("share_a") or 50
            variants = [("A", share), ("B", 100 - share)]
            texts[("B", "zh-hans")] = d["text_b"]
        return CampaignDraft(
            name=d["name"],
            segment=d["segment"],
            channels=d["channels"],
            product=d.get("product"),
            starts_at=d.get("starts_at"),
            goal=d.get("goal") or "",
            goal_account_kind=d.get("goal_account_kind") or "",
            goal_days=d["goal_days"],
            revenue_per_conversion=d["revenue_per_conversion"],
            control_percent=d["control_percent"],
            variants=variants,
            subject=d.get("subject") or "",
            costs=dict.fromkeys(d["channels"], d["cost_per_message"]),
            texts=texts,
        )

    @classmethod
    def initial_from(cls, campaign: Campaign) -> dict:
        steps = list(campaign.steps.prefetch_related("messages__variant"))
        texts = {
            (m.variant.code if m.variant else "A", m.language): m
            for s in steps
            for m in s.messages.all()
        }
        variants = {v.code: v.weight for v in campaign.variants.all()}
        first = texts.get(("A", "zh-hans"))
        return {
            "name": campaign.name,
            "segment": campaign.segment_id,
            "channels": campaign.channels,
            "subject": first.subject if first else "",
            "text_a": first.body if first else "",
            "text_a_en": texts[("A", "en")].body if ("A", "en") in texts else "",
            "text_b": texts[("B", "zh-hans")].body if ("B", "zh-hans") in texts else "",
            "share_a": variants.get("A", 50) if "B" in variants else 50,
            "control_percent": campaign.control_percent,
            "product": campaign.product_id,
            "starts_at": campaign.starts_at,
            "goal": campaign.goal,
            "goal_account_kind": campaign.goal_account_kind,
            "goal_days": campaign.goal_days,
            "revenue_per_conversion": campaign.revenue_per_conversion,
            "cost_per_message": steps[0].cost_per_message if steps else Decimal("0.05"),
        }
