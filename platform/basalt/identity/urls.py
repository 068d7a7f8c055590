"""Public data-API routes of this area, mounted under /api/v1/ by basalt.urls."""

from django.urls import re_path

from basalt.identity.api import federation, roles, views

_SEG = r"[^/]{1,200}"

urlpatterns = [
    re_path(r"^auth/signup/?$", views.SignupView.as_view()),
    re_path(r"^auth/login/?$", views.LoginView.as_view()),
    re_path(r"^auth/refresh/?$", views.RefreshView.as_view()),
    re_path(r"^auth/logout/?$", views.LogoutView.as_view()),
    re_path(r"^auth/anonymous/?$", views.AnonymousView.as_view()),
    re_path(r"^auth/me/?$", views.MeView.as_view()),
    re_path(r"^auth/sessions/?$", views.SessionsView.as_view()),
    re_path(rf"^auth/sessions/(?P<session_id>{_SEG})/?$", views.SessionView.as_view()),
    re_path(r"^auth/verify/request/?$", views.VerifyRequestView.as_view()),
    re_path(r"^auth/verify/confirm/?$", views.VerifyConfirmView.as_view()),
    re_path(r"^auth/password/reset/?$", views.ResetView.as_view()),
    re_path(r"^auth/password/reset/confirm/?$", views.ResetConfirmView.as_view()),
    re_path(r"^auth/providers/exchange/?$", federation.ProviderExchangeView.as_view()),
    re_path(rf"^auth/providers/(?P<provider>{_SEG})/?$", federation.ProviderSignInView.as_view()),
    re_path(rf"^auth/providers/(?P<provider>{_SEG})/authorize/?$", federation.ProviderAuthorizeView.as_view()),
    re_path(rf"^auth/providers/(?P<provider>{_SEG})/callback/?$", federation.ProviderCallbackView.as_view()),
    re_path(r"^auth/me/identities/?$", federation.IdentitiesView.as_view()),
    re_path(rf"^auth/me/identities/(?P<provider>{_SEG})/?$", federation.IdentityView.as_view()),
    re_path(r"^auth/mfa/?$", federation.MfaView.as_view()),
    re_path(r"^auth/mfa/totp/enroll/?$", federation.TotpEnrollView.as_view()),
    re_path(r"^auth/mfa/totp/confirm/?$", federation.TotpConfirmView.as_view()),
    re_path(r"^auth/mfa/totp/?$", federation.TotpView.as_view()),
    re_path(r"^auth/mfa/verify/?$", federation.MfaVerifyView.as_view()),
    re_path(rf"^auth/users/(?P<user_id>{_SEG})/mfa/?$", federation.UserMfaAdminView.as_view()),
    re_path(r"^auth/passkeys/register/options/?$", federation.PasskeyRegisterOptionsView.as_view()),
    re_path(r"^auth/passkeys/register/?$", federation.PasskeyRegisterView.as_view()),
    re_path(r"^auth/passkeys/login/options/?$", federation.PasskeyLoginOptionsView.as_view()),
    re_path(r"^auth/passkeys/login/?$", federation.PasskeyLoginView.as_view()),
    re_path(r"^auth/passkeys/?$", federation.PasskeysView.as_view()),
    re_path(rf"^auth/passkeys/(?P<passkey_id>{_SEG})/?$", federation.PasskeyView.as_view()),
    re_path(rf"^auth/users/(?P<user_id>{_SEG})/?$", views.UserAdminView.as_view()),
    re_path(rf"^auth/users/(?P<user_id>{_SEG})/sessions/?$", views.UserSessionsAdminView.as_view()),
    re_path(r"^auth/jwks\.json$", views.JwksView.as_view()),
    re_path(r"^auth/keys/rotate/?$", views.RotateKeyView.as_view()),
    re_path(r"^roles/?$", roles.RolesView.as_view()),
    re_path(rf"^roles/(?P<name>{_SEG})/?$", roles.RoleView.as_view()),
    re_path(rf"^roles/(?P<name>{_SEG})/users/?$", roles.RoleUsersView.as_view()),
    re_path(rf"^roles/(?P<name>{_SEG})/users/(?P<user_id>{_SEG})/?$", roles.RoleUserView.as_view()),
    re_path(rf"^roles/(?P<name>{_SEG})/roles/?$", roles.RoleRolesView.as_view()),
    re_path(rf"^roles/(?P<name>{_SEG})/roles/(?P<child>{_SEG})/?$", roles.RoleRoleView.as_view()),
]
