"""Process memory caches for the relay hot path (tokens, users, channel routing)."""
