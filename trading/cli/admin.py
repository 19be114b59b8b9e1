"""``ggzy`` commands that set an instance up and keep its register: init and migrate, organisations and
users, the platform CA's certificates, and the embedded demo."""

from __future__ import annotations

import dataclasses
import pathlib

import click
from sqlalchemy.exc import SQLAlchemyError

from signing.errors import SigningError
from trading.cli.common import cli_actor, database, domain_errors, parse, safe_url, settings
from trading.cli.serve import Beside, run_server
from trading.core.config import ConfigError


@click.command(help="创建实例目录、数据库结构和平台密钥 (create the instance folder, schema and platform keys)")
def init() -> None:
    from signing.sm2 import check_key_password
    from trading.core.db import has_history, upgrade
    from trading.core.platform_identity import KEY_FILES, check_pinned, folder_root, missing_key_files, pin_keys
    from trading.core.platform_keys import ensure_platform_keys, key_password, keys_dir

    # every refusal before anything is created or migrated: nothing half-made is left
    s = settings()
    password = key_password(s)
    folder = keys_dir(s)
    try:
        history = has_history(s.database_url)
    except SQLAlchemyError as exc:
        raise click.ClickException(
            f"无法连接数据库 {safe_url(s.database_url)}：{type(exc).__name__} (database unreachable)"
        ) from None
    missing = missing_key_files(s)
    root = folder_root(s)
    if history and root is not None:
        try:  # another instance's folder is refused before the database is migrated
            check_pinned(s, root)
        except SQLAlchemyError as exc:
            raise click.ClickException(f"无法读取数据库 {safe_url(s.database_url)}：{type(exc).__name__}") from None
    if history and missing:
        # new keys would orphan every signature, certificate and checkpoint the trail holds
        raise click.ClickException(
            f"数据库已有审计记录，但密钥目录 {folder} 缺少 {'、'.join(missing)}：请从离线备份放回完整的密钥目录"
            "（PLATFORM_KEYS_DIR）；ggzy init 不会为已有记录的数据库另造密钥。离线备份也丢失时请停机并联系平台技术支持"
            " (the database holds a trail signed with keys that are not here: restore the keys folder)"
        )
    absent = [name for name in KEY_FILES[:4] if name in missing]
    if 0 < len(absent) < 4:  # some of the four certificate and key files, not all
        present = [name for name in KEY_FILES[:4] if name not in missing]
        raise click.ClickException(
            f"密钥目录 {folder} 不完整（有 {'、'.join(present)}，缺 {'、'.join(absent)}）：请放回完整的密钥目录，"
            "或换一个空目录生成新密钥 (a partial keys folder)"
        )
    if absent and password:  # new keys will be made: their password first
        check_key_password(password)
    s.instance.mkdir(parents=True, exist_ok=True)
    upgrade(s.database_url)
    keys = ensure_platform_keys(s)
    with database(s).session() as session:
        pin_keys(session, keys)
    click.echo(f"数据库已就绪 (schema at head): {safe_url(s.database_url)}")
    click.echo(f"平台根证书 (platform root CA): {keys.ca.cert.fingerprint[:16]}…")


@click.command(help="把数据库升级到最新结构 (upgrade the database schema)")
def migrate() -> None:
    from trading.core.db import upgrade

    upgrade(settings().database_url)
    click.echo("数据库已是最新结构 (schema at head)")


@click.command(help="初始化并载入演示数据，然后启动服务 (set up the embedded demo and serve it)")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--no-serve", is_flag=True, help="只准备数据，不启动服务 (prepare only)")
def demo(host: str, port: int, no_serve: bool) -> None:
    s = settings()
    if s.is_production:
        raise click.ClickException("生产实例不能载入演示数据 (demo data is never loaded in production mode)")
    from trading.core.platform_keys import keys_dir
    from trading.demo.launch import (
        accounts_file,
        issuer_command,
        prepare,
        receiver_command,
        scheduler_command,
        serving,
    )

    if (keys_dir(s) / "root.crt").exists() and not accounts_file(s).exists():
        # the demo plays its history in the past: keys made now by `ggzy init` are not valid yet then
        raise click.ClickException(
            f"实例 {s.instance} 已用 ggzy init 初始化过：演示自己初始化，请换一个空的实例目录（GGZY_INSTANCE）"
            " (the demo initialises its own instance: use an empty GGZY_INSTANCE)"
        )
    assert init.callback is not None
    for line in prepare(s, init.callback):
        click.echo(line)
    if not no_serve:
        for line in serving(host, port):
            click.echo(line)
        argv, env = issuer_command(s, host, port)
        receiver, push = receiver_command(s, host, port)
        # the demo's own scheduler (pushing to the reference receiver), the issuer, the receiver
        besides = [Beside(scheduler_command(), push), Beside(argv, env), Beside(receiver)]
        # the pages tell where records go: the app knows the receiver the scheduler pushes to
        served = dataclasses.replace(s, exchange_push_url=push["EXCHANGE_PUSH_URL"])
        run_server(served, host, port, 2, False, besides, quiet=True)


# ---------------------------------------------------------------- organisations and users
@click.group(help="机构与用户 (organisations and users)")
def users() -> None:
    pass


@users.command("add-org", help="登记机构 (register an organisation)")
@click.option("--name", required=True)
@click.option("--credit-code", required=True, help="统一社会信用代码")
@click.option(
    "--kind",
    required=True,
    type=click.Choice(["enterprise", "tenderee", "agency", "issuer", "trading_center", "supervision", "employer"]),
    help="机构类型：enterprise 企业（投标人）、tenderee 招标人、agency 招标代理机构、issuer 保函出具机构、"
    "trading_center 公共资源交易中心、supervision 行政监督部门、employer 专家工作单位",
)
@click.option("--region", required=True, help="行政区划代码（6 位），例如 350100 福州市")
def add_org(name: str, credit_code: str, kind: str, region: str) -> None:
    from trading.accounts.operations import create_organisation
    from trading.accounts.regions import region_name
    from trading.accounts.schemas import OrganisationIn

    s = settings()
    with domain_errors(OrganisationIn), database(s).session() as session:
        data = parse(OrganisationIn, {"name": name, "credit_code": credit_code, "kind": kind, "region": region})
        org = create_organisation(session, cli_actor(), data)
        click.echo(f"已登记机构 {org.id}：{org.name}（{org.kind.label}，{region_name(org.region)}）")


@users.command("add", help="创建用户 (create a user); 密码从标准输入或提示读取")
@click.option("--username", required=True)
@click.option("--name", "display_name", required=True)
@click.option("--org", "organisation_id", type=int, default=None)
@click.option(
    "--role",
    "roles",
    multiple=True,
    required=True,
    help="角色（可重复）：bidder 投标人、tenderee 招标人、agency 招标代理机构、staff 交易中心工作人员、"
    "expert 评标专家、supervisor 行政监督人员、issuer 保函出具机构、admin 系统管理员",
)
@click.password_option(
    prompt="密码 (password, 10+ characters)", confirmation_prompt="再输入一次 (repeat for confirmation)"
)
def add_user(
    username: str, display_name: str, organisation_id: int | None, roles: tuple[str, ...], password: str
) -> None:
    from trading.accounts.operations import create_user
    from trading.accounts.schemas import UserIn

    s = settings()
    with domain_errors(UserIn), database(s).session() as session:
        data = parse(
            UserIn,
            {
                "username": username,
                "display_name": display_name,
                "password": password,
                "organisation_id": organisation_id,
                "roles": list(roles),
            },
        )
        user = create_user(session, cli_actor(), data)
        labels = "、".join(r.label for r in sorted(user.roles))
        click.echo(f"已创建用户 {user.id}：{user.username}（{user.display_name}，{labels}）")


@users.command("list", help="列出机构和用户：类型、角色、状态，北京时间 (list organisations and users)")
def list_users() -> None:
    from sqlalchemy import select

    from trading.accounts.models import Organisation, User
    from trading.accounts.regions import region_name
    from trading.core.formats import local_time

    with database(settings()).session() as session:
        for org in session.scalars(select(Organisation).order_by(Organisation.id)):
            click.echo(f"机构 {org.id}  {org.name}  {org.kind.label}  {org.credit_code}  {region_name(org.region)}")
        for u in session.scalars(select(User).order_by(User.id)):
            org_name = u.organisation.name if u.organisation else "（无机构）"
            labels = "、".join(r.label for r in sorted(u.roles))
            state = "启用" if u.is_active else "已停用"
            click.echo(
                f"用户 {u.id}  {u.username}  {u.display_name}  {org_name}  {labels}  {state}  {local_time(u.created_at)}"
            )


# ---------------------------------------------------------------- the platform CA
@click.group(help="平台 CA：为用户签发 SM2 证书 (the platform CA)")
def ca() -> None:
    pass


@ca.command("issue", help="为公钥签发签名或加密证书 (issue a signing or encryption certificate)")
@click.argument("public_key", type=click.Path(exists=True, dir_okay=False, path_type=pathlib.Path))
@click.option("--usage", type=click.Choice(["sign", "encrypt"]), required=True)
@click.option("--cn", "common_name", required=True, help="证书主体名称")
@click.option("--org-code", default=None, help="统一社会信用代码")
@click.option("--out", type=click.Path(dir_okay=False, path_type=pathlib.Path), required=True)
def ca_issue(public_key: pathlib.Path, usage: str, common_name: str, org_code: str | None, out: pathlib.Path) -> None:
    from signing.certs import Usage
    from trading.core.platform_keys import issue_certificate, load_platform_keys

    try:
        cert = issue_certificate(
            load_platform_keys(settings()),
            public_key.read_bytes(),
            common_name=common_name,
            usage=Usage(usage),
            org_code=org_code,
        )
    except (SigningError, ConfigError) as exc:
        raise click.ClickException(str(exc)) from exc
    out.write_bytes(cert.to_pem())
    click.echo(f"已签发证书 {out}：序列号 {cert.serial:x}，SM3 指纹 {cert.fingerprint[:16]}…")


@ca.command("revoke", help="吊销证书，记入平台吊销列表 (revoke a certificate)")
@click.argument("certificate", type=click.Path(exists=True, dir_okay=False, path_type=pathlib.Path))
@click.option("--reason", required=True, help="吊销原因")
def ca_revoke(certificate: pathlib.Path, reason: str) -> None:
    from signing.certs import Certificate
    from trading.pki.operations import revoke_certificate

    try:
        cert = Certificate.load(certificate.read_bytes())
    except SigningError as exc:
        raise click.ClickException(str(exc)) from exc
    with domain_errors(), database(settings()).session() as session:
        revoke_certificate(session, cli_actor(), cert, reason)
    click.echo(f"已吊销 (revoked): {cert.issuer_serial}")


@ca.command("root", help="导出平台根证书 (write the platform root certificate)")
@click.option("--out", type=click.Path(dir_okay=False, path_type=pathlib.Path), required=True)
def ca_root(out: pathlib.Path) -> None:
    from trading.core.platform_keys import load_platform_keys

    try:
        out.write_bytes(load_platform_keys(settings()).ca.cert.to_pem())
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
