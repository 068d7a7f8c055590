from django.apps import AppConfig


class ProjectsConfig(AppConfig):
    name = "basalt.projects"
    label = "projects"
