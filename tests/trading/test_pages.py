"""Pages: login with CSRF, the home page per role, admin forms with errors shown on the page."""

import re

from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.factories import PASSWORD, csrf_from, make_user, page_login, valid_code
from trading.accounts.models import Organisation, Role


def test_anonymous_home_and_login_page_in_chinese(client: FlaskClient) -> None:
    html = client.get("/").get_data(as_text=True)
    assert "公共资源交易平台" in html and 'lang="zh-CN"' in html
    assert "用户名" in client.get("/login").get_data(as_text=True)


def test_login_requires_csrf(client: FlaskClient, session: Session) -> None:
    u = make_user(session)
    session.commit()
    r = client.post("/login", data={"username": u.username, "password": PASSWORD})
    assert r.status_code == 400 and "安全令牌" in r.get_data(as_text=True)


def test_bad_login_shows_message(client: FlaskClient, session: Session) -> None:
    token = csrf_from(client.get("/login").get_data(as_text=True))
    r = client.post("/login", data={"username": "nobody", "password": "x", "csrf_token": token})
    assert r.status_code == 401 and "用户名或密码错误" in r.get_data(as_text=True)


def test_home_lists_tasks_per_role(client: FlaskClient, session: Session) -> None:
    admin = make_user(session, Role.ADMIN)
    bidder = make_user(session, Role.BIDDER)
    session.commit()
    page_login(client, bidder.username)
    html = client.get("/").get_data(as_text=True)
    assert "投标人：现在可以" in html and "ggzy-bid" in html and "机构管理" not in html
    client.post("/logout", data={"csrf_token": csrf_from(html)})
    page_login(client, admin.username)
    html = client.get("/").get_data(as_text=True)
    assert "系统管理员：现在可以" in html and "机构管理" in html and "用户管理" in html


def test_logout_revokes_server_session(client: FlaskClient, session: Session) -> None:
    u = make_user(session)
    session.commit()
    page_login(client, u.username)
    html = client.get("/account").get_data(as_text=True)
    cookie = client.get_cookie("ggzy_session")
    assert cookie is not None
    client.post("/logout", data={"csrf_token": csrf_from(html)})
    # Replaying the old cookie no longer works: the session was revoked on the server.
    client.set_cookie("ggzy_session", cookie.value)
    assert client.get("/account").status_code == 302


def test_anonymous_is_sent_to_login(client: FlaskClient) -> None:
    r = client.get("/admin/users")
    assert r.status_code == 302 and "/login" in r.headers["Location"]


def test_bidder_cannot_open_admin_pages(client: FlaskClient, session: Session) -> None:
    u = make_user(session, Role.BIDDER)
    session.commit()
    page_login(client, u.username)
    r = client.get("/admin/users")
    assert r.status_code == 403 and "没有权限" in r.get_data(as_text=True)


def test_admin_registers_organisation_via_page(client: FlaskClient, session: Session) -> None:
    admin = make_user(session, Role.ADMIN)
    session.commit()
    page_login(client, admin.username)
    html = client.get("/admin/organisations").get_data(as_text=True)
    before = session.scalar(select(func.count()).select_from(Organisation))
    bad = {
        "name": "页面登记企业",
        "credit_code": "91350100M000100Y44",
        "kind": "enterprise",
        "region": "350100",
        "csrf_token": csrf_from(html),
    }
    r = client.post("/admin/organisations", data=bad)
    assert r.status_code == 422 and "校验位错误" in r.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(Organisation)) == before
    r = client.post("/admin/organisations", data=bad | {"credit_code": valid_code()})
    assert r.status_code == 302
    assert "页面登记企业" in client.get("/admin/organisations").get_data(as_text=True)


def test_admin_creates_user_and_token_via_pages(client: FlaskClient, session: Session) -> None:
    admin = make_user(session, Role.ADMIN)
    org = session.get(Organisation, admin.organisation_id)
    session.commit()
    page_login(client, admin.username)
    html = client.get("/admin/users").get_data(as_text=True)
    r = client.post(
        "/admin/users",
        data={
            "username": "newstaff",
            "display_name": "新同事",
            "password": "long enough pw",
            "organisation_id": str(org.id),
            "roles": ["staff"],
            "csrf_token": csrf_from(html),
        },
    )
    assert r.status_code == 302
    r = client.post(
        "/admin/users",
        data={
            "username": "newbidder",
            "display_name": "错配",
            "password": "long enough pw",
            "organisation_id": str(org.id),
            "roles": ["bidder"],
            "csrf_token": csrf_from(html),
        },
    )
    assert r.status_code == 422 and "不能担任" in r.get_data(as_text=True)
    html = client.get("/account").get_data(as_text=True)
    r = client.post("/account/tokens", data={"name": "我的工具", "csrf_token": csrf_from(html)})
    assert "只显示这一次" in r.get_data(as_text=True)


def test_account_page_names_the_organisation_and_its_credit_code(client: FlaskClient, session: Session) -> None:
    """A bidder seals with ``--bidder <统一社会信用代码>``; the account page is where it finds it."""
    bidder = make_user(session, Role.BIDDER)
    session.commit()
    page_login(client, bidder.username)
    html = client.get("/account").get_data(as_text=True)
    code = bidder.organisation.credit_code
    assert f"<code>{code}</code>" in html and f"ggzy-bid seal --bidder {code}" in html


def test_the_navigation_bar_follows_the_roles(client: FlaskClient, session: Session) -> None:
    """Everyone sees the portal's public links; each role its own tasks, and no link that only
    leads to pages it may not open (the bidder tool's page is for visitors and bidders)."""

    def nav(html: str) -> list[str]:
        bar = re.search(r'<nav class="main"[^>]*>(.*?)</nav>', html, re.S)
        assert bar is not None
        return re.findall(r">([^<]+)</a>", bar.group(1))

    public = ["交易公告", "开标大厅", "产权交易", "结果公示"]
    assert nav(client.get("/").get_data(as_text=True)) == [*public, "投标工具"]
    staff = make_user(session, Role.STAFF)
    session.commit()
    page_login(client, staff.username)
    links = nav(client.get("/").get_data(as_text=True))
    assert links[:4] == public and "审核队列" in links and "电子档案" in links and "投标工具" not in links
    assert 'aria-current="page">审核队列' in client.get("/review").get_data(as_text=True)
