"""Request logs of the data API and the outbox of mails Basalt sent (console pages read both)."""
