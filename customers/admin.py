from django import forms
from django.contrib import admin, messages
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied
from django.db import models
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.translation import gettext_lazy as _

from bankcrm.admin_mixins import ReadOnlyAdmin, RequeueMixin
from bankcrm.audit import AuditContext
from customers import services as customer_services
from customers.ingest import outbound
from customers.ingest import services as ingest_services
from customers.models import (
    Account,
    Consent,
    Customer,
    CustomerDelegation,
    ExternalIdentity,
    Household,
    ImportBatch,
    InboxEvent,
    IntegrationSource,
    Interaction,
    OutboundDelivery,
    OutboundEvent,
    Product,
    ProductDocument,
    Relationship,
    RiskProfile,
    RiskQuestionnaire,
    Subscriber,
    Transaction,
)
from customers.models.integration import OutboundEventType

# Encrypted identifiers and their blind indexes never appear in admin: masked copies do.
# Identifiers are changed through the customer services, which re-index and audit them.
CUSTOMER_SECRET_FIELDS = [
    "national_id",
    "national_id_index",
    "mobile",
    "mobile_index",
    "email",
    "address",
]


class RelationshipInline(admin.TabularInline):
    model = Relationship
    fk_name = "customer"
    raw_id_fields = ["related"]
    extra = 0


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = [
        "cif",
        "name",
        "kind",
        "national_id_masked",
        "mobile_masked",
        "branch",
        "primary_rm",
        "tier",
        "lifecycle",
        "kyc_expires_on",
    ]
    list_filter = ["kind", "tier", "lifecycle", "kyc_status", "branch__region", "branch"]
    search_fields = ["=cif", "name", "name_latin"]
    list_select_related = ["branch", "primary_rm"]
    autocomplete_fields = ["branch", "primary_rm"]
    exclude = CUSTOMER_SECRET_FIELDS
    readonly_fields = ["national_id_masked", "mobile_masked", "email_masked", "created_at"]
    show_full_result_count = False  # a COUNT(*) over millions of rows on every page
    inlines = [RelationshipInline]


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ["number_masked", "kind", "customer", "currency", "balance", "status"]
    list_filter = ["kind", "status", "currency"]
    search_fields = ["=customer__cif"]
    list_select_related = ["customer"]
    raw_id_fields = ["customer"]
    exclude = ["number", "number_index"]
    readonly_fields = ["number_masked"]
    show_full_result_count = False
    list_per_page = 50


@admin.register(Interaction)
class InteractionAdmin(admin.ModelAdmin):
    list_display = ["occurred_at", "customer", "channel", "direction", "subject", "actor"]
    list_filter = ["channel", "direction"]
    search_fields = ["=customer__cif", "subject"]
    list_select_related = ["customer", "actor"]
    raw_id_fields = ["customer", "actor"]
    show_full_result_count = False


@admin.register(CustomerDelegation)
class CustomerDelegationAdmin(admin.ModelAdmin):
    """Holiday cover and specialist access; ending one sets its expiry, keeping the record."""

    list_display = ["content_object", "user", "permission", "expires_at", "granted_by", "reason"]
    list_filter = ["permission"]
    search_fields = ["=content_object__cif", "user__username"]
    list_select_related = ["content_object", "user", "permission", "granted_by"]
    raw_id_fields = ["content_object", "user", "granted_by"]
    date_hierarchy = "expires_at"

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "permission":
            kwargs["queryset"] = Permission.objects.filter(
                content_type__app_label="customers",
                codename__in=["view_customer", "change_customer"],
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        if not change:
            obj.granted_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(ImportBatch)
class ImportBatchAdmin(admin.ModelAdmin):
    list_display = ["file_name", "kind", "status", "uploaded_by", "created_at", "total_rows",
                    "created_count", "updated_count", "skipped_count"]  # fmt: skip
    list_filter = ["kind", "status"]
    exclude = ["content", "preview"]
    readonly_fields = [
        f.name for f in ImportBatch._meta.fields if f.name not in ("content", "preview")
    ]

    def has_add_permission(self, request):
        return False  # uploads go through the import screen, which checks and previews


@admin.register(Consent)
class ConsentAdmin(ReadOnlyAdmin):
    list_display = ["recorded_at", "customer", "purpose", "channel", "granted", "source"]
    list_filter = ["purpose", "channel", "granted"]
    search_fields = ["=customer__cif"]
    list_select_related = ["customer"]
    show_full_result_count = False


@admin.register(RiskProfile)
class RiskProfileAdmin(ReadOnlyAdmin):
    list_display = [
        "assessed_at", "customer", "level", "lowest_category", "score", "expires_on",
        "is_current", "assessed_by",
    ]  # fmt: skip
    list_filter = ["level", "lowest_category", "is_current"]
    search_fields = ["=customer__cif"]
    list_select_related = ["customer", "assessed_by"]
    show_full_result_count = False


@admin.register(Transaction)
class TransactionAdmin(ReadOnlyAdmin):
    list_display = ["booked_at", "customer", "kind", "direction", "amount", "currency", "channel"]
    list_filter = ["direction", "channel", "currency"]
    search_fields = ["=customer__cif", "=external_id"]
    list_select_related = ["customer"]
    show_full_result_count = False


@admin.register(RiskQuestionnaire)
class RiskQuestionnaireAdmin(admin.ModelAdmin):
    """A new version is added, never edited once used: assessments point at their version."""

    list_display = ["version", "is_active", "validity_days", "created_at"]

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.riskprofile_set.exists():
            return ["version", "questions", "bands", "validity_days"]
        return []


@admin.register(Household)
class HouseholdAdmin(admin.ModelAdmin):
    list_display = ["name", "created_at"]
    search_fields = ["name"]


@admin.register(Relationship)
class RelationshipAdmin(admin.ModelAdmin):
    list_display = ["customer", "kind", "role", "related", "share_percent"]
    list_filter = ["kind"]
    search_fields = ["=customer__cif", "=related__cif"]
    raw_id_fields = ["customer", "related"]
    list_select_related = ["customer", "related"]


@admin.register(ExternalIdentity)
class ExternalIdentityAdmin(admin.ModelAdmin):
    list_display = ["source", "external_id", "customer", "created_at"]
    list_filter = ["source"]
    search_fields = ["=external_id", "=customer__cif"]
    raw_id_fields = ["customer"]
    list_select_related = ["customer"]


class SecretShownOnceMixin:
    """The signing secret is shown once, when the object is created, and never again."""

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not change:
            self.message_user(
                request,
                _("Secret of %(source)s (shown once, hand it over now): %(secret)s")
                % {"source": obj.code, "secret": obj.secret},
                messages.WARNING,
            )


@admin.register(IntegrationSource)
class IntegrationSourceAdmin(SecretShownOnceMixin, admin.ModelAdmin):
    list_display = ["code", "name", "kind", "enabled", "contiguous_sequence", "time_zone"]
    list_filter = ["kind", "enabled"]
    search_fields = ["code", "name"]
    # The secrets are never shown or typed: "rotate" makes a new one and shows it once.
    exclude = ["secret", "previous_secret"]
    readonly_fields = ["contiguous_sequence", "previous_secret_expires_at", "created_at"]
    actions = ["rotate_secret"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def get_urls(self):
        status = path(
            "status/",
            self.admin_site.admin_view(self.status_view),
            name="customers_integrationsource_status",
        )
        return [status, *super().get_urls()]

    def status_view(self, request):
        """Per source: sequence position, gaps, backlog, rate, lag and errors."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        rows = [
            (source, ingest_services.source_state(source))
            for source in IntegrationSource.objects.order_by("code")
        ]
        context = {
            **self.admin_site.each_context(request),
            "title": _("Integration status"),
            "opts": self.model._meta,
            "rows": rows,
            "subscribers": outbound.outbound_state(),
        }
        return TemplateResponse(request, "admin/customers/integration_status.html", context)

    @admin.action(description=_("Rotate the signing secret (the old one works 24 more hours)"))
    def rotate_secret(self, request, queryset):
        for source in queryset:
            secret = ingest_services.source_rotate_secret(source=source)
            self.message_user(
                request,
                _("New secret of %(source)s (shown once, give it to the sender): %(secret)s")
                % {"source": source.code, "secret": secret},
                messages.WARNING,
            )


@admin.register(InboxEvent)
class InboxEventAdmin(RequeueMixin, ReadOnlyAdmin):
    """The reconciliation queue: parked events wait for a mapping, then are replayed."""

    list_display = ["event_id", "source", "sequence", "event_type", "status", "error",
                    "occurred_at", "received_at", "attempts"]  # fmt: skip
    list_filter = ["status", "source", "event_type", "error"]
    search_fields = ["=event_id"]
    exclude = ["payload", "body_digest"]  # the payload holds identifiers: never shown
    actions = ["replay"]
    list_select_related = ["source"]
    show_full_result_count = False  # tens of millions of rows

    @admin.action(
        description=_("Replay the selected parked or failed events"), permissions=["requeue"]
    )
    def replay(self, request, queryset):
        count = ingest_services.inbox_replay(
            event_ids=list(queryset.values_list("pk", flat=True)),
            actor=request.user,
            context=AuditContext.of(request),
        )
        self.message_user(request, _("%(count)d events queued again.") % {"count": count})


class SubscriberForm(forms.ModelForm):
    url = forms.URLField(label=_("delivery URL"), assume_scheme="https")
    event_types = forms.MultipleChoiceField(
        label=_("event types"),
        choices=OutboundEventType.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )

    class Meta:
        model = Subscriber
        fields = ["code", "name", "url", "event_types", "enabled"]


@admin.register(Subscriber)
class SubscriberAdmin(SecretShownOnceMixin, admin.ModelAdmin):
    """Systems told about tier changes, consent withdrawals and KYC expiries."""

    form = SubscriberForm
    list_display = ["code", "name", "url", "event_types", "enabled"]
    list_filter = ["enabled"]
    search_fields = ["code", "name"]
    actions = ["rotate_secret"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    @admin.action(description=_("Give the subscriber a new signing secret"))
    def rotate_secret(self, request, queryset):
        for subscriber in queryset:
            outbound.subscriber_rotate_secret(subscriber=subscriber)
            self.message_user(
                request,
                _("New secret of %(source)s (shown once, give it to the receiver): %(secret)s")
                % {"source": subscriber.code, "secret": subscriber.secret},
                messages.WARNING,
            )


@admin.register(OutboundEvent)
class OutboundEventAdmin(ReadOnlyAdmin):
    list_display = ["event_id", "event_type", "customer", "created_at"]
    list_filter = ["event_type"]
    search_fields = ["=event_id", "=customer__cif"]
    list_select_related = ["customer"]
    show_full_result_count = False


@admin.register(OutboundDelivery)
class OutboundDeliveryAdmin(RequeueMixin, ReadOnlyAdmin):
    """Where each outbound event stands with each subscriber; dead ones can be retried."""

    list_display = ["event", "subscriber", "status", "attempts", "next_attempt_at",
                    "last_status_code", "last_error", "delivered_at"]  # fmt: skip
    list_filter = ["status", "subscriber"]
    search_fields = ["=event__event_id"]
    list_select_related = ["event", "subscriber"]
    actions = ["retry"]
    show_full_result_count = False

    @admin.action(description=_("Send the selected deliveries again now"), permissions=["requeue"])
    def retry(self, request, queryset):
        count = outbound.outbound_retry(
            delivery_ids=list(queryset.values_list("pk", flat=True)),
            actor=request.user,
            context=AuditContext.of(request),
        )
        self.message_user(request, _("%(count)d deliveries queued again.") % {"count": count})


# ---- product catalogue --------------------------------------------------------------------


class ProductDocumentInline(admin.TabularInline):
    """The versions so far, read-only: a new version is added on the document page."""

    model = ProductDocument
    fields = ["kind", "version", "file_name", "size", "sha256", "uploaded_by", "uploaded_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True
    ordering = ["kind", "-version"]

    def has_add_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).defer("content").select_related("uploaded_by")


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    """Product managers and admins maintain the catalogue here. A product is never deleted
    (holdings and sales point at it): it is closed."""

    list_display = [
        "code", "name_zh", "kind", "risk_level", "currency", "min_amount", "status",
        "sale_starts", "sale_ends", "private_placement",
    ]  # fmt: skip
    list_filter = ["kind", "risk_level", "status", "private_placement", "eligible_kinds"]
    search_fields = ["code", "name_zh", "name_en", "issuer"]
    readonly_fields = ["synced_at", "created_at", "updated_at"]
    inlines = [ProductDocumentInline]

    def has_delete_permission(self, request, obj=None):
        return False


class ProductDocumentForm(forms.ModelForm):
    file = forms.FileField(label=_("File"))

    class Meta:
        model = ProductDocument
        fields = ["product", "kind"]

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > ProductDocument.MAX_BYTES:
            raise forms.ValidationError(
                _("The file is larger than %(mb)s MB.")
                % {"mb": ProductDocument.MAX_BYTES // (1024 * 1024)}
            )
        return upload


@admin.register(ProductDocument)
class ProductDocumentAdmin(admin.ModelAdmin):
    """Adding a document adds its next version (customers.services.product_document_add);
    versions are never changed or deleted (a trigger refuses it)."""

    list_display = ["product", "kind", "version", "file_name", "size", "uploaded_by", "uploaded_at"]
    list_filter = ["kind"]
    search_fields = ["product__code", "file_name", "sha256"]
    list_select_related = ["product", "uploaded_by"]
    autocomplete_fields = ["product"]
    form = ProductDocumentForm

    def get_queryset(self, request):
        return super().get_queryset(request).defer("content")

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is not None:  # viewing a version: every field read-only, no file
            kwargs["form"] = forms.ModelForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["product", "kind", "file"]
        return [
            "product", "kind", "version", "file_name", "content_type", "size", "sha256",
            "uploaded_by", "uploaded_at",
        ]  # fmt: skip

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.get_fields(request, obj)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        upload = form.cleaned_data["file"]
        saved = customer_services.product_document_add(
            actor=request.user, context=AuditContext.of(request),
            product=form.cleaned_data["product"],
            kind=form.cleaned_data["kind"], file_name=upload.name, content=upload.read(),
            content_type=upload.content_type or "",
        )  # fmt: skip
        obj.pk, obj.version = saved.pk, saved.version
