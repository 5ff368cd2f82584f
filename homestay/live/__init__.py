"""Live events: the database's change feed (events.py: what a change means; feed.py: one
stream per process, fanned out to its subscribers)."""
