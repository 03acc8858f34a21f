"""Background senders on the store's queues (webhooks now; push and email next)."""
