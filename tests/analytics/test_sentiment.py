"""Sentiment of customers' texts: the shipped scorer, the metrics and the CSV command, the
texts scored when they arrive (and by the sweep, once), where the sentiment is shown, and
the supervisor's follow-up of a negative satisfaction comment."""

import csv
import io
from functools import partial

import pytest
from django.core.management import CommandError, call_command

from analytics import sentiment, tasks
from analytics.models import FeedbackFollowUp, TextSentiment
from bankcrm.models import StaffNotification
from bankcrm.outbox import enqueue
from bankcrm.roles import Role
from customers import services as customer_services
from service import services
from service.models import Survey

pytestmark = pytest.mark.django_db

NEGATIVE_ZH = "网点排队太久，两个小时没人管，非常失望"
POSITIVE_ZH = "理财经理很专业，讲解耐心，非常满意"


# ---- the scorer and its metrics -----------------------------------------------------------


@pytest.mark.parametrize(
    "text, label",
    [
        (NEGATIVE_ZH, "negative"),
        (POSITIVE_ZH, "positive"),
        ("the app keeps crashing and nobody answers the phone", "negative"),
        ("excellent service, thank you, very helpful staff", "positive"),
    ],
)
def test_the_shipped_model_reads_plain_cases(text, label):
    found, score = sentiment.score_text(text)
    assert found == label
    assert 0 <= score <= 1 and (score > 0.5) == (label == "positive")


def test_the_model_file_is_small_and_names_its_version():
    assert sentiment.MODEL_FILE.stat().st_size < 3_000_000
    assert sentiment.scorer().version.startswith("tfidf-lr-")


def test_metrics_by_hand():
    truth = ["positive", "positive", "negative", "neutral"]
    predicted = ["positive", "negative", "negative", "negative"]
    m = sentiment.metrics(truth, predicted)
    # F1: positive 2/3, negative 1/2 (two false negatives predicted), neutral 0 -> 7/18
    assert (m.accuracy, round(m.macro_f1, 4)) == (0.5, round(7 / 18, 4))
    assert m.confusion == [[1, 0, 0], [1, 0, 0], [1, 0, 1]]
    assert (m.majority_label, m.majority_accuracy) == ("positive", 0.5)


@pytest.mark.parametrize(
    "values, expected",
    [
        (["1", "0", "1"], {"1": "positive", "0": "negative"}),
        (["pos", "NEG"], {"pos": "positive", "neg": "negative"}),
        (["positive", "neutral", "negative"], None),
        (["2", "1", "0"], {"2": "positive", "1": "neutral", "0": "negative"}),
        (["-1", "0", "1"], {"-1": "negative", "0": "neutral", "1": "positive"}),
    ],
)
def test_label_schemes_are_detected_from_the_values(values, expected):
    mapping = sentiment.label_mapping(values)
    assert mapping == (expected or {v: v for v in values})


def test_unknown_labels_are_refused():
    with pytest.raises(sentiment.LabelError):
        sentiment.label_mapping(["good", "bad", "1"])


def _generated_csv(tmp_path):
    """Rows a model must get right and one it gets wrong, under made-up column names."""
    rows = [
        ("a1", POSITIVE_ZH, "pos"),
        ("a2", "客户经理态度很好，服务周到，谢谢", "pos"),
        ("a3", "very helpful and friendly staff, thank you", "pos"),
        ("a4", NEGATIVE_ZH, "neg"),
        ("a5", "柜员态度很差，乱收费，要投诉", "neg"),
        ("a6", "terrible service, rude staff, I am very disappointed", "neg"),
        ("a7", "非常满意，点赞", "neg"),  # mislabelled on purpose: one error
    ]
    path = tmp_path / "comments.csv"
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["ref", "kommentar", "verdict"])
        writer.writerows(rows)
    return path


def test_the_command_scores_any_csv_and_prints_its_metrics(tmp_path):
    path, out = _generated_csv(tmp_path), tmp_path / "scored.csv"
    printed = io.StringIO()
    call_command(
        "sentiment_score", "--csv", str(path), "--text", "kommentar", "--label", "verdict",
        "--out", str(out), stdout=printed,
    )  # fmt: skip
    with open(out, encoding="utf-8") as handle:
        scored = list(csv.DictReader(handle))
    assert [r["ref"] for r in scored] == ["a1", "a2", "a3", "a4", "a5", "a6", "a7"]
    assert all(r["sentiment"] in sentiment.LABELS and 0 <= float(r["sentiment_score"]) <= 1
               for r in scored)  # fmt: skip
    truth = ["positive"] * 3 + ["negative"] * 4
    m = sentiment.metrics(truth, [r["sentiment"] for r in scored])
    assert m.accuracy == 6 / 7  # the mislabelled row only
    text = printed.getvalue()
    assert f"accuracy {m.accuracy:.3f}, macro-F1 {m.macro_f1:.3f}" in text
    assert "majority class (negative): accuracy 0.571" in text
    assert "true \\ predicted" in text and "positive/negative at 0.5" in text


def test_the_command_writes_to_stdout_and_names_a_missing_column(tmp_path):
    path = _generated_csv(tmp_path)
    printed = io.StringIO()
    call_command("sentiment_score", "--csv", str(path), "--text", "kommentar", stdout=printed)
    assert printed.getvalue().splitlines()[0] == "ref,kommentar,verdict,sentiment,sentiment_score"
    with pytest.raises(CommandError, match="no column 'text'"):
        call_command("sentiment_score", "--csv", str(path), "--text", "text", stdout=io.StringIO())


# ---- scored when the text arrives ---------------------------------------------------------


def test_a_ticket_description_is_queued_in_its_transaction_and_scored_by_the_task(
    desk, agent, customer, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        ticket = services.ticket_open(
            actor=agent, customer=customer, subject="投诉", channel="phone",
            description=NEGATIVE_ZH,
        )  # fmt: skip
    row = TextSentiment.objects.get(kind="ticket", source_id=ticket.pk)
    assert row.computed_at is None  # pending, in the ticket's own transaction
    asked = [c for c in callbacks if isinstance(c, partial) and c.func is enqueue]
    assert [c.args for c in asked if c.args[0].startswith("analytics")] == [
        ("analytics.tasks.text_sentiment", "ticket", ticket.pk)
    ]
    assert tasks.text_sentiment("ticket", ticket.pk) is True
    row.refresh_from_db()
    assert (row.label, row.customer_id) == ("negative", customer.pk)
    assert row.model_version == sentiment.scorer().version and 0 <= row.score < 0.3
    assert tasks.text_sentiment("ticket", ticket.pk) is False  # done: nothing to redo


def test_an_interaction_note_is_scored_and_one_without_notes_is_not(rm, customer):
    noted = customer_services.interaction_log(
        actor=rm, customer=customer, channel="phone", direction="outbound", subject="回访",
        notes=POSITIVE_ZH,
    )  # fmt: skip
    customer_services.interaction_log(
        actor=rm, customer=customer, channel="phone", direction="outbound", subject="回访"
    )
    assert list(TextSentiment.objects.values_list("kind", "source_id")) == [
        ("interaction", noted.pk)
    ]
    assert sentiment.text_sentiment_sweep() == 1
    assert TextSentiment.objects.get().label == "positive"


def _answered(ticket, comment, score=2):
    services.ticket_resolve(actor=ticket.assignee, ticket=ticket, resolution="已处理")
    services.ticket_transition(actor=ticket.assignee, ticket=ticket, to="closed")
    survey = Survey.objects.get(ticket=ticket)
    assert services.survey_answer(survey=survey, score=score, comment=comment)
    return survey


@pytest.fixture
def closed_ticket(desk, agent, customer):
    def build(description=""):
        ticket = services.ticket_open(
            actor=agent, customer=customer, subject="转账问题", channel="phone",
            description=description,
        )  # fmt: skip
        services.ticket_take(agent=agent, ticket=ticket)
        return ticket

    return build


def test_the_sweep_scores_what_a_lost_task_left_once_and_raises_one_follow_up(closed_ticket):
    ticket = closed_ticket()
    _answered(ticket, NEGATIVE_ZH)
    # No task ran (the broker was down, say): the rows wait, pending.
    assert TextSentiment.objects.pending().filter(kind="survey", source_id=ticket.pk).exists()
    assert sentiment.text_sentiment_sweep() == 1
    assert sentiment.text_sentiment_sweep() == 0
    assert tasks.text_sentiment("survey", ticket.pk) is False
    row = TextSentiment.objects.get(kind="survey", source_id=ticket.pk)
    follow_up = FeedbackFollowUp.objects.get()
    assert (row.label, follow_up.ticket_id, follow_up.satisfaction) == ("negative", ticket.pk, 2)
    # The text scored again (a replayed request): still one follow-up.
    sentiment.text_sentiment_request("survey", ticket.pk, NEGATIVE_ZH)
    assert sentiment.text_sentiment_sweep() == 1
    assert FeedbackFollowUp.objects.count() == 1
    # Supervisors are told once, with a link to their page; nobody else is.
    told = StaffNotification.objects.filter(kind="csat_follow_up")
    assert told.count() == 1 and told.get().recipient.has_role(Role.SERVICE_SUPERVISOR)
    assert ticket.number in told.get().title


def test_a_positive_comment_raises_no_follow_up(closed_ticket):
    ticket = closed_ticket()
    _answered(ticket, POSITIVE_ZH, score=5)
    sentiment.text_sentiment_sweep()
    assert TextSentiment.objects.get(kind="survey").label == "positive"
    assert not FeedbackFollowUp.objects.exists()


def test_a_text_gone_before_its_turn_loses_its_row(rm, customer):
    note = customer_services.interaction_log(
        actor=rm, customer=customer, channel="phone", direction="outbound", subject="回访",
        notes=POSITIVE_ZH,
    )  # fmt: skip
    type(note).objects.filter(pk=note.pk).update(notes="")
    assert sentiment.text_sentiment_sweep() == 0
    assert not TextSentiment.objects.exists()


def test_backfill_queues_texts_stored_around_the_services(rm, customer):
    from customers.models import Interaction

    Interaction.objects.create(customer=customer, channel="phone", direction="inbound",
                               subject="导入", notes=NEGATIVE_ZH)  # fmt: skip
    assert sentiment.text_sentiment_backfill() == 1
    assert sentiment.text_sentiment_backfill() == 0
    assert sentiment.text_sentiment_sweep() == 1


def test_pending_texts_computed_at_once_as_one_by_one(rm, customer, closed_ticket):
    """text_sentiment_compute_pending (backfills, the demo) ends where the task and the sweep
    end, row by row: the same label and score, a negative comment's follow-up and the
    supervisors told, a text gone losing its row; in a constant number of queries."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from customers.models import Interaction

    ticket = closed_ticket(description="手机银行一直登录失败，太麻烦了")
    _answered(ticket, NEGATIVE_ZH)
    for text in (POSITIVE_ZH, POSITIVE_ZH, "the staff were rude and the fee is a rip-off"):
        Interaction.objects.create(customer=customer, channel="phone", direction="inbound",
                                   subject="导入", notes=text)  # fmt: skip
    gone = Interaction.objects.create(customer=customer, channel="phone", direction="inbound",
                                      subject="导入", notes=NEGATIVE_ZH)  # fmt: skip
    assert sentiment.text_sentiment_backfill() == 4
    Interaction.objects.filter(pk=gone.pk).update(notes=" ")
    with CaptureQueriesContext(connection) as queries:
        assert sentiment.text_sentiment_compute_pending(limit=100) == 5
    assert len(queries) <= 20  # not per text
    assert sentiment.text_sentiment_compute_pending() == 0
    assert not TextSentiment.objects.pending().exists()
    assert not TextSentiment.objects.filter(kind="interaction", source_id=gone.pk).exists()
    model = sentiment.scorer()
    texts = {("ticket", ticket.pk): ticket.description, ("survey", ticket.pk): NEGATIVE_ZH}
    texts |= {("interaction", i.pk): i.notes for i in Interaction.objects.exclude(pk=gone.pk)}
    for row in TextSentiment.objects.all():
        assert (row.label, row.score) == model.score(texts[(row.kind, row.source_id)])
        assert row.customer_id == customer.pk and row.model_version == model.version
    follow_up = FeedbackFollowUp.objects.get()
    assert (follow_up.ticket_id, follow_up.satisfaction) == (ticket.pk, 2)
    assert StaffNotification.objects.filter(kind="csat_follow_up").count() == 1


# ---- where it is shown -------------------------------------------------------------------


def test_the_ticket_page_shows_both_texts_sentiment(client, login, supervisor, closed_ticket):
    ticket = closed_ticket(description=NEGATIVE_ZH)
    _answered(ticket, POSITIVE_ZH, score=5)
    sentiment.text_sentiment_sweep()
    login(supervisor)
    page = client.get(f"/service/tickets/{ticket.pk}/").content.decode()
    assert 'data-testid="ticket-sentiment" data-sentiment="negative"' in page
    assert 'data-testid="survey-sentiment" data-sentiment="positive"' in page


def test_the_360_timeline_shows_a_notes_sentiment(client, login, rm, customer):
    customer_services.interaction_log(
        actor=rm, customer=customer, channel="phone", direction="outbound", subject="回访",
        notes=NEGATIVE_ZH,
    )  # fmt: skip
    sentiment.text_sentiment_sweep()
    login(rm)
    page = client.get(f"/customers/{customer.pk}/").content.decode()
    assert 'data-testid="sentiment" data-sentiment="negative"' in page


def test_the_supervisor_sees_the_follow_up_and_marks_it_done_once(
    client, login, supervisor, closed_ticket
):
    ticket = closed_ticket()
    _answered(ticket, NEGATIVE_ZH)
    sentiment.text_sentiment_sweep()
    follow_up = FeedbackFollowUp.objects.get()
    login(supervisor)
    page = client.get("/service/supervisor/").content.decode()
    assert 'data-testid="follow-up"' in page and ticket.number in page
    url = f"/analytics/follow-ups/{follow_up.pk}/done/"
    assert client.post(url, {"note": "已致电客户道歉"}).status_code == 302
    follow_up.refresh_from_db()
    assert (follow_up.done_by, follow_up.note) == (supervisor, "已致电客户道歉")
    done_at = follow_up.done_at
    client.post(url, {"note": "again"})
    follow_up.refresh_from_db()
    assert (follow_up.done_at, follow_up.note) == (done_at, "已致电客户道歉")
    assert 'data-testid="follow-up"' not in client.get("/service/supervisor/").content.decode()


# ---- English: the lexicon --------------------------------------------------------------


def test_the_lexicon_reads_english_as_vader_does():
    from analytics import lexicon

    assert lexicon.compound("the adviser was helpful") > 0.3
    assert lexicon.compound("the adviser was not helpful") < 0  # a negation turns it
    assert lexicon.compound("very helpful") > lexicon.compound("helpful")  # a booster
    assert lexicon.compound("VERY GOOD") == lexicon.compound("very good")  # all capitals
    assert lexicon.compound("it was GOOD, thanks") > lexicon.compound("it was good, thanks")
    assert lexicon.compound("good!!") > lexicon.compound("good")
    # After "but" counts more: the fees decide.
    assert lexicon.compound("great service but terrible fees") < 0
    # Our banking entries, phrases included, where VADER has nothing.
    assert lexicon.compound("hidden fees again") < 0 and lexicon.compound("the app crashes") < 0
    assert lexicon.compound("no reply for a week") < 0
    assert lexicon.compound("customer asked for the March statement") == 0  # no lexicon word
    assert lexicon.compound("No complaints at all") > 0  # "no" turns what follows


def test_english_is_blended_with_the_lexicon_and_chinese_is_not():
    from analytics import lexicon

    model = sentiment.scorer()
    assert 0 < model.lexicon_weight <= 1 and "-lex" in model.version
    english = "the staff were rude and the fee is a rip-off"
    assert model.probability(english) == pytest.approx(
        sentiment.blend(model.regression(english), lexicon.compound(english),
                        model.lexicon_weight)
    )  # fmt: skip
    assert model.probability(NEGATIVE_ZH) == model.regression(NEGATIVE_ZH)


def test_a_model_file_from_before_the_lexicon_reads_without_it(tmp_path):
    import numpy as np

    with np.load(sentiment.MODEL_FILE) as data:
        arrays = dict(data)
    arrays["scalars"] = arrays["scalars"][:5]  # what files before the lexicon held
    np.savez_compressed(tmp_path / "old.npz", **arrays)
    old = sentiment.Scorer.load(tmp_path / "old.npz")
    assert old.lexicon_weight == 0
    text = "the staff were rude"
    assert old.probability(text) == old.regression(text)


def test_calibration_phrases_choose_englishs_share_and_band_not_the_regression():
    """sentiment_train's added English phrases: scored, never learned from, so the
    regression and the Chinese band are those of the same training without them."""
    rows = sentiment.read_examples(sentiment.BANKING_PHRASES, source="banking",
                                   text="text", label="label")  # fmt: skip
    extra = sentiment.read_examples(sentiment.BANKING_PHRASES_EN, source="banking",
                                    text="text", label="label")[:60]  # fmt: skip
    params = sentiment.TrainingParams(min_df=1)
    alone = sentiment.train(rows, params, folds=3)
    calibrated = sentiment.train(rows, params, folds=3, calibration=extra)
    assert calibrated.vocabulary == alone.vocabulary
    assert (calibrated.coef == alone.coef).all() and calibrated.bands["zh"] == alone.bands["zh"]
    assert calibrated.lexicon_weight in sentiment.LEXICON_WEIGHTS
