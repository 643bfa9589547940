"""Temporary: the fixtures work."""


def test_login_in_every_mode_reads_the_profile(logged_in):
    response = logged_in.request("get", logged_in.profile_path)
    assert response.status_code == 200
    assert response.json()["username"] == "alice"
    assert response["Auth-Mode"] == logged_in.mode


def test_live_server_serves_a_login(live, live_user, password):
    import httpx

    response = httpx.post(f"{live.url}/api/jwt/token/", json={"username": "alice", "password": password})
    assert response.status_code == 200, response.text
    profile = httpx.get(
        f"{live.url}/api/jwt/profile/",
        headers={"Authorization": f"Bearer {response.json()['access']}"},
    )
    assert profile.json()["username"] == "alice"
