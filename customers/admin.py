from django.contrib import admin

from customers.models import Account, Customer, Interaction

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


@admin.register(Interaction)
class InteractionAdmin(admin.ModelAdmin):
    list_display = ["occurred_at", "customer", "channel", "direction", "subject", "actor"]
    list_filter = ["channel", "direction"]
    search_fields = ["=customer__cif", "subject"]
    list_select_related = ["customer", "actor"]
    raw_id_fields = ["customer", "actor"]
    show_full_result_count = False
