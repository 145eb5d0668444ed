"""Every marketing/ URL (and the customers' opt-out link under /o/) × every role × own /
someone else's object: the status each gets (tests/matrix.py runs it).

Own is the user's own segment or campaign (for those who build none, compliance and the
desk, one of the RM's); other is one of another branch's RM. RMs reach their own, branch
managers their branch's, marketing managers and compliance everything (compliance reads and
approves, builds and changes nothing); the desk and admins nothing. A campaign is approved
by a marketing manager or compliance other than its author: a marketing manager's own is
403. Empty forms are sent back to the page with a message (302).
"""

import pytest

from bankcrm.audit import SYSTEM
from bankcrm.roles import Role
from marketing import sending, services
from marketing.models import Campaign, Delivery, Segment
from tests import factories
from tests.marketing.conftest import consent, tree
from tests.matrix import Matrix, World, everyone, expect

pytestmark = pytest.mark.django_db

NONE = (404, 404)
PAGES = expect(
    relationship_manager=200,
    branch_manager=200,
    service_agent=403,
    service_supervisor=403,
    compliance_officer=200,
    marketing_manager=200,
    product_manager=403,
    admin=403,
)
BUILD = expect(
    relationship_manager=200,
    branch_manager=200,
    service_agent=403,
    service_supervisor=403,
    compliance_officer=403,
    marketing_manager=200,
    product_manager=403,
    admin=403,
)
READ = expect(
    relationship_manager=(200, 404),
    branch_manager=(200, 404),
    service_agent=NONE,
    service_supervisor=NONE,
    compliance_officer=(200, 200),
    marketing_manager=(200, 200),
    product_manager=NONE,
    admin=NONE,
)


def change(status):
    """Changing a segment or campaign: its author (and marketing managers, any)."""
    return expect(
        relationship_manager=(status, 404),
        branch_manager=(status, 404),
        service_agent=NONE,
        service_supervisor=NONE,
        compliance_officer=(403, 403),
        marketing_manager=(status, status),
        product_manager=NONE,
        admin=NONE,
    )


def approve(status):
    return expect(
        relationship_manager=(403, 404),
        branch_manager=(403, 404),
        service_agent=NONE,
        service_supervisor=NONE,
        compliance_officer=(status, status),
        marketing_manager=(403, status),
        product_manager=NONE,
        admin=NONE,
    )


MATRIX = Matrix(urlconfs=["marketing.urls", "marketing.public_urls"], rows={
    "marketing:index":                 ("get",  None, None,       PAGES),
    "marketing:segment-create":        ("get",  None, None,       BUILD),
    "marketing:segment-detail":        ("get",  None, "segment",  READ),
    "marketing:segment-condition-add": ("post", None, "segment",  change(302)),
    "marketing:segment-group-add":     ("post", None, "segment",  change(302)),
    "marketing:segment-node-remove":   ("post", None, "segment",  change(302)),
    "marketing:segment-add-cifs":      ("post", None, "segment",  change(302)),
    "marketing:segment-freeze":        ("post", None, "segment",  change(302)),
    "marketing:segment-export":        ("get",  None, "segment",  READ),
    "marketing:campaign-create":       ("get",  None, None,       BUILD),
    # The form's live preview: an empty form previews nothing (200, "choose a channel").
    "marketing:campaign-preview":      ("post", None, None,       BUILD),
    "marketing:campaign-detail":       ("get",  None, "draft",    READ),
    "marketing:campaign-edit":         ("get",  None, "draft",    change(200)),
    "marketing:campaign-progress":     ("get",  None, "sending",  READ),
    "marketing:campaign-submit":       ("post", None, "draft",    change(302)),
    "marketing:campaign-approve":      ("post", None, "pending",  approve(302)),
    "marketing:campaign-send-back":    ("post", None, "pending",  approve(302)),
    "marketing:campaign-launch":       ("post", None, "approved", change(302)),
    "marketing:campaign-cancel":       ("post", None, "draft",    change(302)),
    # The customer's opt-out link: the token is the key, the session nothing.
    "marketing_public:opt-out":        ("get",  None, "token",    everyone((200, 404))),
})  # fmt: skip
test_every_url_is_in_the_matrix, test_permission_matrix = MATRIX.tests()

BUILDERS = (Role.RELATIONSHIP_MANAGER, Role.BRANCH_MANAGER, Role.MARKETING_MANAGER)


@pytest.fixture
def world(staff, rm, other_branch):
    stranger = factories.user(Role.RELATIONSHIP_MANAGER, branch=other_branch)
    approver = factories.user(Role.MARKETING_MANAGER, branch=other_branch)
    customer = factories.customer(branch=rm.branch, rm=rm)
    consent(customer)

    def author(user):
        return user if user is not None and user.roles & set(BUILDERS) else rm

    def a_segment(owner):
        return services.segment_create(
            actor=owner, context=SYSTEM, name="s", kind=Segment.Kind.DYNAMIC, conditions=tree()
        )

    def a_campaign(owner, status):
        draft = services.CampaignDraft(
            name="c", segment=a_segment(owner), channels=["sms"],
            texts={("sms", "A", "zh-hans"): "您好"},
        )  # fmt: skip
        campaign = services.campaign_save(actor=owner, context=SYSTEM, draft=draft)
        if status != Campaign.Status.DRAFT:
            services.campaign_submit(actor=owner, context=SYSTEM, campaign=campaign)
        if status in (Campaign.Status.APPROVED, Campaign.Status.SENDING):
            services.campaign_approve(actor=approver, context=SYSTEM, campaign=campaign)
        if status == Campaign.Status.SENDING:
            services.campaign_launch(actor=owner, context=SYSTEM, campaign=campaign)
        return campaign

    def objects(kind, user):
        if kind == "segment":
            return {"pk": a_segment(author(user)).pk}, {"pk": a_segment(stranger).pk}
        if kind == "token":
            campaign = a_campaign(rm, Campaign.Status.SENDING)
            delivery = Delivery.objects.get(campaign=campaign)
            return {"token": sending.opt_out_token(delivery.pk)}, {"token": "0123456789abc"}
        if kind in ("draft", "pending", "approved", "sending"):
            status = {"draft": "draft", "pending": "pending_approval"}.get(kind, kind)
            own, other = a_campaign(author(user), status), a_campaign(stranger, status)
            return {"pk": own.pk}, {"pk": other.pk}
        return {}, None

    return World(users=staff, objects=objects)
