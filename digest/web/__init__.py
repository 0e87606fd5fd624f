"""What readers reach over the web.

Owns: `digest serve` (`app`: subscribe with double opt-in, confirm, preferences,
one-click unsubscribe, and the archive served in place; `server`: waitress and
proxies), the static archive (`archive`: each issue's page, JSON and record
(`archive_records`), the index, country and trends pages (`archive_pages`),
the Atom feed (`archive_feed`)). The one-click unsubscribe links of every mail
(`[unsubscribe] url`) are answered by `digest serve`'s `/unsubscribe`; there is
no other endpoint for them.

Never touches: feeds, editorial choices or the weekly send. It renders pages with
`digest.render`, keeps readers through `digest.state.store`, and mails the
confirmation and welcome notices through `digest.mail.notices`.
"""
