"""What analytics reads in customers' free text: its sentiment, the follow-ups negative
satisfaction comments raise, and the phrases that point to a product need.

TextSentiment is one row per text (kind, source id): written pending (computed_at NULL) in
the transaction that stores the text (bankcrm.registry.TEXT_WRITTEN), computed by a task on
commit or by the beat sweep that finds pending rows (a partial index), never twice: the
worker locks the row and does only what is still pending. A survey comment's source id is
its ticket's id (one survey per ticket), so a ticket's page reads both its texts' sentiment
by the ticket id in one query.

FeedbackFollowUp is the supervisor's task for a negative satisfaction comment: one per
survey (a unique ticket), open until a supervisor marks it done on the supervisor page.

NeedPhrase maps a word or phrase of interaction notes (留学贷款, 养老理财, "student loan")
to a product kind of the catalogue, or to one product; edited in the admin, seeded by
migration (analytics.needs reads them).
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from customers.models import Customer, Product, ProductKind


class TextKind(models.TextChoices):
    SURVEY = "survey", _("Satisfaction comment")
    TICKET = "ticket", _("Ticket description")
    INTERACTION = "interaction", _("Interaction note")


class Sentiment(models.TextChoices):
    NEGATIVE = "negative", _("Negative")
    NEUTRAL = "neutral", _("Neutral")
    POSITIVE = "positive", _("Positive")


class TextSentimentQuerySet(models.QuerySet):
    def pending(self):
        return self.filter(computed_at__isnull=True)


class TextSentiment(models.Model):
    kind = models.CharField(_("text"), max_length=12, choices=TextKind)
    source_id = models.BigIntegerField(_("source id"))
    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, null=True,
        blank=True, related_name="+",
    )  # fmt: skip
    label = models.CharField(_("sentiment"), max_length=8, choices=Sentiment, blank=True)
    # The probability that the text is positive (analytics.sentiment).
    score = models.FloatField(_("score"), null=True, blank=True)
    model_version = models.CharField(_("model version"), max_length=40, blank=True)
    # SHA-256 of the text scored: a changed text is scored again, the same one is not.
    text_sha256 = models.CharField(max_length=64, blank=True, editable=False)
    requested_at = models.DateTimeField(_("requested"), default=timezone.now)
    computed_at = models.DateTimeField(_("computed"), null=True, blank=True)

    objects = TextSentimentQuerySet.as_manager()

    class Meta:
        verbose_name = _("text sentiment")
        verbose_name_plural = _("text sentiments")
        constraints = [
            models.UniqueConstraint(fields=["kind", "source_id"], name="text_sentiment_once"),
            models.CheckConstraint(
                condition=Q(computed_at__isnull=True)
                | (~Q(label="") & Q(score__gte=0, score__lte=1)),
                name="text_sentiment_computed_whole",
            ),
        ]
        indexes = [
            models.Index(
                fields=["requested_at"],
                name="text_sentiment_pending_idx",
                condition=Q(computed_at__isnull=True),
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.source_id}: {self.label or '…'}"


class FeedbackFollowUpQuerySet(models.QuerySet):
    def open(self):
        return self.filter(done_at__isnull=True)


class FeedbackFollowUp(models.Model):
    ticket = models.OneToOneField(
        "service.Ticket", verbose_name=_("ticket"), on_delete=models.CASCADE,
        related_name="+",
    )  # fmt: skip
    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="+"
    )
    satisfaction = models.PositiveSmallIntegerField(_("satisfaction (1–5)"), null=True)
    score = models.FloatField(_("sentiment score"))
    created_at = models.DateTimeField(_("raised"), default=timezone.now)
    done_at = models.DateTimeField(_("done"), null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("done by"), on_delete=models.PROTECT,
        null=True, blank=True, related_name="+",
    )  # fmt: skip
    note = models.CharField(_("what was done"), max_length=500, blank=True)

    objects = FeedbackFollowUpQuerySet.as_manager()

    class Meta:
        verbose_name = _("feedback follow-up")
        verbose_name_plural = _("feedback follow-ups")
        constraints = [
            models.CheckConstraint(
                condition=Q(done_at__isnull=True) | Q(done_by__isnull=False),
                name="feedback_follow_up_done_by",
            )
        ]
        indexes = [
            models.Index(
                fields=["-created_at"],
                name="feedback_follow_up_open_idx",
                condition=Q(done_at__isnull=True),
            )
        ]

    def __str__(self) -> str:
        return f"{self.ticket_id}"


class NeedPhrase(models.Model):
    phrase = models.CharField(
        _("word or phrase"), max_length=40, unique=True,
        help_text=_("As written in notes, e.g. 留学贷款 or student loan; matched as a whole "
                    "word (Chinese notes are segmented with the banking dictionary)."),
    )  # fmt: skip
    product_kind = models.CharField(_("product type"), max_length=20, choices=ProductKind)
    product = models.ForeignKey(
        Product, verbose_name=_("product"), on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+",
        help_text=_("Optional: one product instead of every product of the type."),
    )  # fmt: skip
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("need phrase")
        verbose_name_plural = _("need phrases")
        ordering = ["phrase"]
        constraints = [
            models.CheckConstraint(condition=~Q(phrase=""), name="need_phrase_not_blank")
        ]

    def __str__(self) -> str:
        return self.phrase
