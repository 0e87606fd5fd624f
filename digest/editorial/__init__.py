"""Editorial decisions: what goes into a week's issue, and under which country.

Owns: finding names in text (`matching`), the knowledge base of who is who
(`entities`), the country of each story (`classify`), whether a story is about
AI (`relevance`), amounts and model versions written one way (`figures`), the
features two reports are compared on (`textfeatures`), merging reports of one
event into one story (`cluster`), and the issue model of a week: its window,
sections, caps and late posts (`selection`).

Never touches: the network, the database or the clock. Every function takes
its data and a `now`; the same inputs give the same issue. Imports nothing from
`digest.fetch`, `digest.state`, `digest.mail` or `digest.web`.
"""
