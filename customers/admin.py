from django.contrib import admin
from django.contrib.auth.models import Permission

from customers.models import Account, Customer, CustomerDelegation, ImportBatch, Interaction

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
