from django.urls import path

from . import rest, views

urlpatterns = [
    path("start/", views.start, name="start"),
    path("p/<str:token>/", views.participant_page, name="participant-page"),
    path("api/p/<str:token>/page", rest.PageView.as_view(), name="api-page"),
    path("api/p/<str:token>/response", rest.ResponseView.as_view(), name="api-response"),
]
