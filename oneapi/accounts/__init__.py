"""Account features around sign-up: email codes, mail, OAuth, Turnstile, notifications."""
