"""digest: many RSS/Atom feeds about Asian AI hubs → one weekly email, grouped by country.

The pipeline, one subpackage per stage, each importing only from those before it:

    fetch      feeds over HTTP → normalised posts          (the only network reader)
    state      SQLite: posts, feed state, subscribers, the delivery ledger; the lock
    editorial  posts → the week's issue model: countries, relevance, one story per event
    render     issue model → email HTML (CSS inlined), web page, text part
    mail       rendered issue → one message per reader, over SMTP
    web        the static archive and the unsubscribe endpoint
    run        the stages in order: by hand, from cron (`run_once`) or as a daemon
    loopback   the demo and the feed and SMTP servers tests use, on 127.0.0.1

At the top: `cli` (the front door), `config` (the TOML settings), `credentials`
(secrets from the environment), `models` (the frozen shapes every stage shares),
`errors` (the one exception root) and `logs`.
"""

__version__ = "0.2.0"
