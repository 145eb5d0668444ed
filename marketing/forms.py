from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from bankcrm.forms import BootstrapMixin
from customers.models import Account, Product
from marketing.models import Campaign, Channel, Language, Segment
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


# The campaign form's message fields: per channel, a text per variant and language
# ("text_sms_a_zh", "text_email_b_en" …) and, where the channel has one, a subject per
# language ("subject_email_zh"); the variants share the subject.
LANGUAGES = (("zh", Language.ZH_HANS), ("en", Language.EN))
VARIANTS = ("A", "B")
SUBJECT_CHANNELS = ("email", "app")


def text_field_name(channel: str, variant: str, short: str) -> str:
    return f"text_{channel}_{variant.lower()}_{short}"


def subject_field_name(channel: str, short: str) -> str:
    return f"subject_{channel}_{short}"


def cost_field_name(channel: str) -> str:
    return f"cost_{channel}"


# What a message costs by channel until the planner says otherwise (yuan): an SMS, an
# e-mail, an app push, an RM's call (the budget counts the sent ones, marketing/selectors.py).
DEFAULT_COSTS = {"sms": Decimal("0.05"), "email": Decimal("0.01"), "app": Decimal(0),
                 "call": Decimal("2.00")}  # fmt: skip


class CampaignForm(BootstrapMixin, forms.Form):
    """A campaign and its message per channel and language: the Chinese text of each chosen
    channel is required (of both variants with an A/B test), English optional (customers
    who read English get the Chinese where there is none); the texts of channels not chosen
    are ignored."""

    name = forms.CharField(label=_("Campaign name"), max_length=120)
    segment = forms.ModelChoiceField(label=_("Segment"), queryset=Segment.objects.none())
    product = ProductChoiceField(
        label=_("Product"),
        queryset=Product.objects.none(),
        required=False,
        empty_label="—",
        help_text=_("A product on sale in the catalogue: only customers it suits are sent "
                    "the campaign, and its risk disclosure is attached."),
    )  # fmt: skip
    channels = forms.MultipleChoiceField(
        label=_("Channels"), choices=Channel.choices, widget=forms.CheckboxSelectMultiple
    )
    ab_test = forms.BooleanField(
        label=_("A/B test: a second text (variant B) for each channel"), required=False
    )
    share_a = forms.IntegerField(
        label=_("Share of variant A (%)"), min_value=1, max_value=99, initial=50, required=False
    )
    control_percent = forms.IntegerField(
        label=_("Control group (%)"), min_value=0, max_value=50, initial=0
    )
    starts_at = forms.DateTimeField(
        label=_("Send from"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
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

    HEAD = ("name", "segment", "product", "channels")
    TAIL = ("starts_at", "goal", "goal_account_kind", "goal_days", "revenue_per_conversion")

    def __init__(self, *args, segments=None, products=None, **kwargs):
        super().__init__(*args, **kwargs)
        if segments is not None:
            self.fields["segment"].queryset = segments
        if products is not None:
            self.fields["product"].queryset = products
        for channel in Channel.values:
            self.fields[cost_field_name(channel)] = forms.DecimalField(
                label=_("Cost per message (yuan)"), min_value=0, max_digits=8, decimal_places=4,
                initial=DEFAULT_COSTS[channel], required=False,
                widget=forms.NumberInput(attrs={"class": "form-control form-control-sm",
                                                "step": "0.0001"}),
            )  # fmt: skip
            if channel in SUBJECT_CHANNELS:
                for short, label in (("zh", _("Subject (Chinese)")),
                                     ("en", _("Subject (English, optional)"))):  # fmt: skip
                    self.fields[subject_field_name(channel, short)] = forms.CharField(
                        label=label, max_length=150, required=False,
                        widget=forms.TextInput(attrs={"class": "form-control form-control-sm"}),
                    )  # fmt: skip
            for variant in VARIANTS:
                for short in ("zh", "en"):
                    label = (_("Text %(variant)s (Chinese)") if short == "zh"
                             else _("Text %(variant)s (English, optional)"))  # fmt: skip
                    self.fields[text_field_name(channel, variant, short)] = forms.CharField(
                        label=label % {"variant": variant}, max_length=2000, required=False,
                        widget=forms.Textarea(
                            attrs={"rows": 2, "class": "form-control form-control-sm"}
                        ),
                    )  # fmt: skip

    # ---- the template's parts ----

    def head_fields(self):
        return [self[name] for name in self.HEAD]

    def tail_fields(self):
        return [self[name] for name in self.TAIL]

    def channel_sections(self) -> list[dict]:
        """Per channel: its subject fields (or none), and its texts per variant, Chinese then
        English."""
        return [
            {
                "channel": channel,
                "label": label,
                "cost": self[cost_field_name(channel)],
                "subject": [self[subject_field_name(channel, s)] for s, _l in LANGUAGES]
                if channel in SUBJECT_CHANNELS else [],
                "variants": [
                    (v, [self[text_field_name(channel, v, s)] for s, _l in LANGUAGES])
                    for v in VARIANTS
                ],
            }
            for channel, label in Channel.choices
        ]  # fmt: skip

    # ---- validation ----

    def clean(self):
        data = super().clean()
        variants = VARIANTS if data.get("ab_test") else VARIANTS[:1]
        for channel in data.get("channels") or []:
            if data.get(cost_field_name(channel)) is None:
                self.add_error(cost_field_name(channel), _("Enter what a message costs."))
            for variant in variants:
                name = text_field_name(channel, variant, "zh")
                if not (data.get(name) or "").strip():
                    self.add_error(name, _("Write the Chinese text of this channel."))
        return data

    def messages(self) -> list[tuple[str, str, str, str, str]]:
        """(channel, variant, language, subject, text) of every text written for a chosen
        channel (and variant B only with an A/B test), from what passed validation."""
        d = self.cleaned_data
        variants = VARIANTS if d.get("ab_test") else VARIANTS[:1]
        rows = []
        for channel in d.get("channels") or []:
            for variant in variants:
                for short, language in LANGUAGES:
                    text = d.get(text_field_name(channel, variant, short)) or ""
                    if text.strip():
                        subject = d.get(subject_field_name(channel, short)) or ""
                        rows.append((channel, variant, language, subject, text))
        return rows

    def draft(self):
        from marketing.services import CampaignDraft

        d = self.cleaned_data
        variants = [("A", 100)]
        if d.get("ab_test"):
            share = d.get("share_a") or 50
            variants = [("A", share), ("B", 100 - share)]
        messages = self.messages()
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
            costs={channel: d[cost_field_name(channel)] for channel in d["channels"]},
            texts={(ch, v, lang): text for ch, v, lang, _s, text in messages},
            subjects={(ch, lang): subject for ch, _v, lang, subject, _t in messages if subject},
        )

    @classmethod
    def initial_from(cls, campaign: Campaign) -> dict:
        steps = list(campaign.steps.prefetch_related("messages__variant"))
        variants = {v.code: v.weight for v in campaign.variants.all()}
        initial = {
            "name": campaign.name,
            "segment": campaign.segment_id,
            "channels": campaign.channels,
            "ab_test": "B" in variants,
            "share_a": variants.get("A", 50) if "B" in variants else 50,
            "control_percent": campaign.control_percent,
            "product": campaign.product_id,
            "starts_at": campaign.starts_at,
            "goal": campaign.goal,
            "goal_account_kind": campaign.goal_account_kind,
            "goal_days": campaign.goal_days,
            "revenue_per_conversion": campaign.revenue_per_conversion,
        }
        shorts = {language: short for short, language in LANGUAGES}
        for step in steps:
            initial[cost_field_name(step.channel)] = step.cost_per_message
            for message in step.messages.all():
                short = shorts.get(message.language)
                variant = message.variant.code if message.variant else "A"
                if short is None or variant not in VARIANTS:
                    continue
                initial[text_field_name(step.channel, variant, short)] = message.body
                if step.channel in SUBJECT_CHANNELS and message.subject:
                    initial[subject_field_name(step.channel, short)] = message.subject
        return initial
