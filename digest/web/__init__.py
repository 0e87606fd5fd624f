"""What readers reach over the web.

Owns: the static archive (`archive`: each issue's page and JSON, the index,
country pages, the Atom feed) and the endpoint that honours one-click
unsubscribe links (`unsubscribe`).

Never touches: feeds, SMTP or editorial choices. It renders with
`digest.render` and reads subscribers through `digest.state.store`.
"""
