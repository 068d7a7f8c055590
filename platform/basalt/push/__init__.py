"""Push notifications: installations, pushes, per-installation deliveries and provider adapters."""
