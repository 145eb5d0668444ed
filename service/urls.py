from django.urls import path

from service import views

app_name = "service"

urlpatterns = [
    path("", views.my_tickets, name="mine"),
    path("queues/<slug:code>/", views.team_queue, name="queue"),
    path("take-next/", views.take_next, name="take-next"),
    path("supervisor/", views.supervisor, name="supervisor"),
    path("tickets/new/", views.ticket_create, name="ticket-create"),
    path("tickets/<int:pk>/", views.ticket_detail, name="ticket-detail"),
    path("tickets/<int:pk>/reply/", views.ticket_reply, name="ticket-reply"),
    path("tickets/<int:pk>/status/", views.ticket_status, name="ticket-status"),
    path("tickets/<int:pk>/resolve/", views.ticket_resolve, name="ticket-resolve"),
    path("tickets/<int:pk>/approve/", views.ticket_approve, name="ticket-approve"),
    path("tickets/<int:pk>/reopen/", views.ticket_reopen, name="ticket-reopen"),
    path("tickets/<int:pk>/take/", views.ticket_take, name="ticket-take"),
    path("tickets/<int:pk>/assign/", views.ticket_assign, name="ticket-assign"),
    path("tickets/<int:pk>/move/", views.ticket_move, name="ticket-move"),
    path("tickets/<int:pk>/macro/", views.macro_fill, name="macro-fill"),
    path("tickets/<int:pk>/articles/", views.ticket_link_article, name="ticket-article"),
    path("kb/", views.kb_search, name="kb"),
    path("kb/<int:pk>/", views.kb_article, name="kb-article"),
]
