"""What the JSON API, the CLI and (later) the admin and ops pages share: they ask these, never
`live.sessions` or `store.writer` directly."""
