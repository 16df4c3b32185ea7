"""Pages that name no icon (the admin's) still find one where browsers look for it."""


def test_favicon_ico_leads_to_steves_icon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301
    assert response["Location"] == "/static/img/favicon.svg"
