"""The review UI: queue, submission page, its actions, file bytes and the overview.

Views are thin: they scope every query to the reviewer's company (the queries live in
submissions.selectors), parse a form, call one service and render. Each page works as
plain links and form posts; htmx (boost, polling and partial refreshes) only makes it
faster. One module per part: `queue`, `detail` (the submission page), `actions` (its
POST actions), `files` (file bytes and rendered pages) and `stats` (the overview);
`common` holds what they share.
"""
