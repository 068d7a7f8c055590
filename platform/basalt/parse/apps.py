from django.apps import AppConfig


class ParseConfig(AppConfig):
    name = "basalt.parse"
    label = "parse"
    verbose_name = "Parse-compatible face"

    def ready(self) -> None:
        from basalt.parse.settings_section import validate_parse_section
        from basalt.projects.project_settings import SECTION_VALIDATORS

        SECTION_VALIDATORS["parse"] = validate_parse_section
        from basalt.parse.sessions import PREFIX, resolve_bearer
        from basalt.projects.caller import register_bearer_resolver

        register_bearer_resolver(resolve_bearer, prefix=PREFIX)
        from basalt.documents.api import hot_routes
        from basalt.parse.views import entry

        # The whole face past the middleware chain, as the data API's hot routes (same URLconf match:
        # basalt.parse.urls sends every path under parse/ to `entry`).
        hot_routes.register("/parse/", r"/parse/(?P<path>.*)\Z", entry)
        from basalt.core import loop_lane

        # Object reads, queries and writes of one object may be answered on `serve`'s event loop
        # (core.loop_lane); the SDKs' POSTs carrying `_method` alike.
        loop_lane.register(r"/parse/classes/[^/]+(?:/[^/]+)?/?\Z", ("GET", "HEAD", "POST", "PUT", "DELETE"))
