from django.urls import path

from marketing import views

app_name = "marketing"
urlpatterns = [
    path("", views.index, name="index"),
    path("segments/new/", views.segment_create, name="segment-create"),
    path("segments/<int:pk>/", views.segment_detail, name="segment-detail"),
    path(
        "segments/<int:pk>/conditions/", views.segment_condition_add, name="segment-condition-add"
    ),
    path("segments/<int:pk>/groups/", views.segment_group_add, name="segment-group-add"),
    path("segments/<int:pk>/remove/", views.segment_node_remove, name="segment-node-remove"),
    path("segments/<int:pk>/cifs/", views.segment_add_cifs, name="segment-add-cifs"),
    path("segments/<int:pk>/freeze/", views.segment_freeze, name="segment-freeze"),
    path("segments/<int:pk>/export/", views.segment_export, name="segment-export"),
    path("campaigns/new/", views.campaign_create, name="campaign-create"),
    path("campaigns/preview/", views.campaign_preview, name="campaign-preview"),
    path("campaigns/<int:pk>/", views.campaign_detail, name="campaign-detail"),
    path("campaigns/<int:pk>/edit/", views.campaign_edit, name="campaign-edit"),
    path("campaigns/<int:pk>/progress/", views.campaign_progress, name="campaign-progress"),
    path("campaigns/<int:pk>/submit/", views.campaign_submit, name="campaign-submit"),
    path("campaigns/<int:pk>/approve/", views.campaign_approve, name="campaign-approve"),
    path("campaigns/<int:pk>/send-back/", views.campaign_send_back, name="campaign-send-back"),
    path("campaigns/<int:pk>/launch/", views.campaign_launch, name="campaign-launch"),
    path("campaigns/<int:pk>/cancel/", views.campaign_cancel, name="campaign-cancel"),
]
