"""WebSocket routes; the realtime area appends its consumer here."""

websocket_urlpatterns: list = []
