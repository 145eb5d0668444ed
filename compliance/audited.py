"""Which tables the data-change trail covers, and what the screens call their rows.

Every table whose change an auditor would ask about has an AFTER trigger running
compliance_record_change (compliance/sql/): one DataChange row per changed row, with who
wrote it from the session's audit context. This module is the one list of them; the
migrations that installed the triggers are their history, and tests hold the list against
the database (`pg_trigger`) and against the models (every model of the project's apps is
in AUDITED or in NOT_AUDITED, with the reason).

For each table:
- `secret`: columns whose value is never copied (ciphertexts, blind indexes, signing
  secrets, the password hash): "***" when they change; their masked copies are recorded.
- `ignored`: columns never recorded at all: figures mirrored from elsewhere or derived,
  progress counters, texts that must not be copied (a notification's body).
- `customer`: the column naming the customer, so the change is in the customer's history.
- `requeue_only`: a queue whose rows are written by the thousand by workers: only a row
  put back in the queue (its status back to "pending": a replay, a "send again") is
  recorded, by a trigger with that WHEN condition.
"""

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class Audited:
    table: str
    label: Promise
    secret: tuple[str, ...] = ()
    ignored: tuple[str, ...] = ()
    customer: str = ""
    requeue_only: bool = False

    @property
    def trigger_args(self) -> tuple[str, str, str]:
        """compliance_record_change's arguments: secret, ignored, the customer column."""
        return ",".join(self.secret), ",".join(self.ignored), self.customer


# Back in the queue: what a replay or a "send again" does, and no worker ever does.
REQUEUED = "OLD.status IS DISTINCT FROM NEW.status AND NEW.status = 'pending'"

AUDITED = [
    # Organisation, users and what they may do.
    Audited("bankcrm_branch", _("Branch")),
    Audited("bankcrm_user", _("User"), secret=("password",),
            # a sign-in event says it; the unread messages' count, kept by a trigger
            ignored=("last_login", "unread_notifications")),
    Audited("bankcrm_user_groups", _("Role membership")),
    Audited("bankcrm_user_user_permissions", _("User permission")),
    Audited("auth_group", _("Role")),
    Audited("auth_group_permissions", _("Role permission")),
    # Customers and what the bank knows of them.
    Audited("customers_customer", _("Customer"),
            secret=("national_id", "national_id_index", "mobile", "mobile_index", "email",
                    "address"),
            customer="id"),
    Audited("customers_account", _("Holding"), secret=("number", "number_index"),
            ignored=("balance", "balance_as_of", "balance_sequence"),  # mirrored from core
            customer="customer_id"),
    Audited("customers_consent", _("Consent"), customer="customer_id"),
    Audited("customers_customerdelegation", _("Delegation"), customer="content_object_id"),
    Audited("customers_interaction", _("Interaction"), customer="customer_id"),
    Audited("customers_household", _("Household")),
    Audited("customers_relationship", _("Relationship"), customer="customer_id"),
    Audited("customers_externalidentity", _("External identity"),
            ignored=("last_sequence",),  # the last event applied, per event
            customer="customer_id"),
    Audited("customers_product", _("Product"),
            ignored=("synced_at", "synced_sequence")),  # when core banking last sent it
    Audited("customers_productdocument", _("Product document"),
            secret=("content",)),  # the file itself: its name, size and SHA-256 are recorded
    Audited("customers_riskquestionnaire", _("Risk questionnaire")),
    Audited("customers_riskprofile", _("Risk assessment"), customer="customer_id"),
    # Imports and integration: who loaded what, which systems may write, what was replayed.
    Audited("customers_importbatch", _("Import"), secret=("content",),
            # Progress, chunk by chunk (the import's rows are recorded themselves), and
            # what the import's page shows (row errors, the masked preview).
            ignored=("heartbeat_at", "attempts", "processed_rows", "valid_rows", "error_rows",
                     "created_count", "updated_count", "unchanged_count", "skipped_count",
                     "errors", "preview")),
    Audited("customers_integrationsource", _("Integration source"),
            secret=("secret", "previous_secret"),
            ignored=("contiguous_sequence",)),  # the resync cursor, per event
    Audited("customers_subscriber", _("Outbound subscriber"), secret=("secret",)),
    Audited("customers_inboxevent", _("Inbox event"), ignored=("payload", "body_digest"),
            requeue_only=True),
    Audited("customers_outbounddelivery", _("Outbound delivery"), requeue_only=True),
    # The service desk: tickets and the configuration that decides clocks, routing and
    # what customers are told.
    Audited("service_ticket", _("Ticket"),
            ignored=("due_at", "sla_check_at", "response_warn_at", "resolve_warn_at"),
            customer="customer_id"),
    Audited("service_queue", _("Queue")),
    Audited("service_queue_members", _("Queue membership")),
    Audited("service_slapolicy", _("SLA policy")),
    Audited("service_routingrule", _("Routing rule")),
    Audited("service_businesscalendar", _("Business calendar")),
    Audited("service_calendarhours", _("Opening hours")),
    Audited("service_calendarexception", _("Calendar exception")),
    Audited("service_macro", _("Canned reply")),
    Audited("service_knowledgearticle", _("Knowledge article")),
    Audited("service_notification", _("Notification"), ignored=("subject", "body"),
            customer="customer_id", requeue_only=True),
    # Compliance's own configuration and findings.
    Audited("compliance_accessrule", _("Access anomaly rule")),
    Audited("compliance_accessalert", _("Access alert")),
    # Marketing: who targeted whom, with what, approved by whom (triggers installed by
    # marketing 0003); a delivery only when an admin puts it back in the queue.
    Audited("marketing_segment", _("Segment"),
            ignored=("last_count", "counted_at", "count_ms")),  # a live count is no change
    Audited("marketing_campaign", _("Campaign")),
    Audited("marketing_campaignstep", _("Campaign step")),
    Audited("marketing_campaignmessage", _("Campaign message")),
    Audited("marketing_variant", _("Campaign variant")),
    Audited("marketing_prohibitedphrase", _("Prohibited phrase")),
    Audited("marketing_frequencycap", _("Frequency cap")),
    Audited("marketing_journey", _("Journey")),
    Audited("marketing_delivery", _("Marketing message"), customer="customer_id",
            requeue_only=True),
    # Analytics: who trained and who activated which model, and the value formulas' settings
    # (triggers installed by analytics 0003; the model text itself is stored, not copied).
    # The trained model, its features and metrics are written once and shown on the model
    # page; the trail records who trained it and each change of status (activation).
    Audited("analytics_modelversion", _("Model version"),
            ignored=("model_text", "baseline", "features", "dropped", "metrics",
                     "baseline_metrics", "params", "holdout", "source_detail", "label")),
    Audited("analytics_tierthreshold", _("Tier threshold")),
    Audited("analytics_productmargin", _("Product margin")),
    Audited("analytics_valuepolicy", _("Value policy")),
    Audited("compliance_riskwarningkind", _("Risk warning kind")),
    # Opening, a severity raised, clearing and expiry; a refresh moves only what is ignored
    # here, and each signal is kept in compliance_risksignal (append-only).
    Audited("compliance_riskwarning", _("Risk warning"),
            ignored=("last_seen", "expires_at", "last_signal_key", "evidence"),
            customer="customer_id"),
    # Suitability: each new version of the rules (never changed: a trigger refuses it), and
    # sales with their evidence, recorded and then confirmed by core banking.
    Audited("compliance_suitabilityruleset", _("Suitability rules")),
    Audited("compliance_sale", _("Sale"), customer="customer_id"),
    # Who set up which report for which roles (trigger installed by analytics 0005).
    Audited("analytics_reportdefinition", _("Report definition")),
    # Which words of notes point to which products (admin), and who closed the follow-up of
    # a negative satisfaction comment with what note (triggers installed by analytics 0007).
    Audited("analytics_needphrase", _("Need phrase")),
    Audited("analytics_feedbackfollowup", _("Feedback follow-up"), customer="customer_id"),
]  # fmt: skip

BY_TABLE = {entry.table: entry for entry in AUDITED}

# Every other table of the project's apps, and why its changes are not in the trail.
NOT_AUDITED = {
    "bankcrm_accesslog": "an audit table itself (append-only, chained)",
    "bankcrm_securityevent": "an audit table itself (append-only, chained)",
    "compliance_datachange": "the trail itself (append-only, chained)",
    "compliance_chainlink": "the audit tables' hash chain (append-only)",
    "compliance_recentread": "derived from the access log for the anomaly rules, pruned",
    "compliance_risksignal": "append-only (a trigger refuses changes): each signal as "
    "received; what it did to a warning is recorded on the audited warning",
    "compliance_suitabilitycheck": "append-only evidence itself (a trigger refuses UPDATE "
    "and DELETE): every blocked check and every allowed sale's check",
    "bankcrm_heartbeat": "the workers' liveness beat",
    "bankcrm_staffnotification": "messages to staff about changes recorded elsewhere; the row "
    "keeps when it was sent and read, and nothing else of it changes",
    "customers_transaction": "high-volume history mirrored from core banking, never edited",
    "customers_outboundevent": "written by the database because of an audited change",
    "service_ticketevent": "the ticket's own history, append-only (the ticket is audited)",
    "service_ticketnumber": "a counter for ticket numbers",
    "service_slamilestone": "derived by the SLA clock from the audited ticket",
    "service_survey": "the customer's own answer, written once by the survey link",
    "service_knowledgearticle_tickets": "which articles helped which tickets: usage, not "
    "configuration",
    "marketing_segmentmember": "written in bulk (a snapshot copies up to the whole bank); "
    "a snapshot's creation and conditions are recorded on the segment",
    "marketing_journeyfiring": "a journey's own bookkeeping of what fired for whom, once",
    "analytics_customerscore": "derived nightly by the active model version, kept with it",
    "analytics_customervalue": "derived nightly from the audited settings and the data",
    "analytics_nightlyrun": "the nightly run's own bookkeeping",
    "analytics_kpibalanceday": "daily KPI snapshot, derived from the data and rebuilt at will",
    "analytics_kpicustomerday": "daily KPI snapshot, derived from the data and rebuilt at will",
    "analytics_kpitiermoveday": "daily KPI snapshot, derived from the value tiers",
    "analytics_kpiqueueday": "daily KPI snapshot, derived from the tickets and surveys",
    "analytics_kpicampaignday": "daily KPI snapshot, derived from the deliveries",
    "analytics_kpirun": "the snapshot run's own bookkeeping",
    "analytics_kpichange": "a queue of changes already recorded where they were made, "
    "taken by the next snapshot run",
    "analytics_kpiwatchlist": "the branch watch lists, ranked from the value rows at each snapshot",
    "analytics_reportrun": "a generated file (encrypted); each download is in the access log",
    "analytics_textsentiment": "derived from the text by the shipped model, kept with its version",
}


def label(table: str) -> str:
    return str(BY_TABLE[table].label)


def choices() -> list[tuple[str, Promise]]:
    """The object types of the audit screens' filter, by label."""
    return [(entry.table, entry.label) for entry in AUDITED]
