from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    name = "basalt.realtime"
    label = "realtime"
    verbose_name = "Realtime"

    def ready(self) -> None:
        from basalt.documents import changefeed
        from basalt.projects.project_settings import SECTION_VALIDATORS
        from basalt.realtime.config import validate_realtime_section
        from basalt.realtime.hub import publish

        SECTION_VALIDATORS["realtime"] = validate_realtime_section
        changefeed.register(publish)
        import re

        from basalt.core.handler import STREAM_PATHS

        # The SSE streams (sse.stream, console_stream.stream) must not hold a request thread each.
        stream = re.compile(r"\A/api/v1/realtime/(?:sse/?|console/[^/]+/[^/]+/?)\Z")
        if not any(pattern.pattern == stream.pattern for pattern in STREAM_PATHS):
            STREAM_PATHS.append(stream)
