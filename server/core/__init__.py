"""The decision core: pure functions of (state, event, now). No I/O, no clock, no Redis."""
