"""The event consumers as supervised actors: each a thin loop over a service call."""
