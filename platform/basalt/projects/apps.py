from django.apps import AppConfig


class ProjectsConfig(AppConfig):
    name = "basalt.projects"
    label = "projects"

    def ready(self):
        from basalt.projects import cors  # noqa: F401 - connects the CORS decision to django-cors-headers
