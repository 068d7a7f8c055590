from django.urls import re_path

from basalt.projects.api import views

REF = r"(?P<ref>[^/]+)"

urlpatterns = [
    re_path(r"^projects/?$", views.ProjectListView.as_view()),
    re_path(r"^invitations/accept/?$", views.InvitationAcceptView.as_view()),
    re_path(rf"^projects/{REF}/?$", views.ProjectDetailView.as_view()),
    re_path(rf"^projects/{REF}/keys/?$", views.KeyListView.as_view()),
    re_path(rf"^projects/{REF}/keys/(?P<key_id>[^/]+)/?$", views.KeyDetailView.as_view()),
    re_path(rf"^projects/{REF}/members/?$", views.MemberListView.as_view()),
    re_path(rf"^projects/{REF}/members/(?P<member_id>[^/]+)/?$", views.MemberDetailView.as_view()),
    re_path(rf"^projects/{REF}/invitations/?$", views.InvitationListView.as_view()),
    re_path(rf"^projects/{REF}/invitations/(?P<invitation_id>[^/]+)/?$", views.InvitationDetailView.as_view()),
    re_path(rf"^projects/{REF}/settings/?$", views.SettingsView.as_view()),
]
