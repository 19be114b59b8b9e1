"""``ggzy-bid complaints``: complaints (投诉) to the supervising department, signed on the bidder's own
machine with its registered signing key (the platform never sees the key), with evidence files;
the complaints of one's organisation, one in full, and the written statements the department asks
of it. Everything the platform sends is printed escaped (``safe``)."""

from __future__ import annotations

import base64
import json
import pathlib
import secrets
from typing import Any
from urllib.parse import quote

import click

from bidding.cli.common import (
    BEIJING_FOOTER,
    api_client,
    api_errors,
    beijing,
    fail,
    key_password,
    load_keys,
    one_line,
    safe,
    when,
)
from signing.digest import SM3
from signing.statements import (
    COMPLAINT_MAX_FILE_BYTES,
    COMPLAINT_MAX_FILES,
    COMPLAINT_MAX_TOTAL_BYTES,
    complaint_kind,
    complaint_statement,
)

MATTERS = ("documents", "opening", "evaluation_result", "other")
#: the grounds and the requests as files: at most this many bytes each (the platform takes 10,000
#: and 2,000 characters)
MAX_TEXT_BYTES = 64 * 1024
_FILE = click.Path(exists=True, dir_okay=False, path_type=pathlib.Path)


def read_text(path: pathlib.Path, what: str) -> str:
    if path.stat().st_size > MAX_TEXT_BYTES:
        fail(f"{what}文件过大（至多 {MAX_TEXT_BYTES:,} 字节）({what} file too large)")
    try:
        text = path.read_text(encoding="utf-8").strip()
    except UnicodeDecodeError:
        fail(f"{what}文件应为 UTF-8 文本 ({what} file must be UTF-8 text)")
        raise AssertionError("unreachable") from None
    if not text:
        fail(f"{what}为空 ({what} is empty)")
    return text


def evidence_list(paths: tuple[pathlib.Path, ...]) -> list[dict[str, Any]]:
    """Each evidence file's name, SM3 and size, bounded before anything is sent."""
    if len(paths) > COMPLAINT_MAX_FILES:
        fail(f"证明材料至多 {COMPLAINT_MAX_FILES} 个 (at most {COMPLAINT_MAX_FILES} evidence files)")
    total, listed = 0, []
    for p in paths:
        size = p.stat().st_size
        if not 0 < size <= COMPLAINT_MAX_FILE_BYTES:
            fail(f"证明材料 {p.name} 为空或超过 {COMPLAINT_MAX_FILE_BYTES:,} 字节 (empty or too large)")
        total += size
        h = SM3()
        with p.open("rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
        listed.append({"name": p.name, "sm3": h.hexdigest(), "size": size})
    if total > COMPLAINT_MAX_TOTAL_BYTES:
        fail(f"证明材料合计超过 {COMPLAINT_MAX_TOTAL_BYTES:,} 字节 (evidence too large in total)")
    return listed


def multipart(complaint: bytes, paths: list[pathlib.Path]) -> tuple[bytes, str]:
    """The filing as ``multipart/form-data``: the signed complaint and each evidence file (bounded above)."""
    boundary = f"ggzy-{secrets.token_hex(16)}"
    out = bytearray()

    def part(name: str, filename: str, media: str, data: bytes) -> None:
        out.extend(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
            f"Content-Type: {media}\r\n\r\n".encode()
        )
        out.extend(data + b"\r\n")

    part("complaint", "complaint.json", "application/json", complaint)
    for i, p in enumerate(paths, start=1):
        part("evidence", f"evidence-{i}", "application/octet-stream", p.read_bytes())
    out.extend(f"--{boundary}--\r\n".encode())
    return bytes(out), f"multipart/form-data; boundary={boundary}"


@click.group(help="投诉：向行政监督部门投诉、查看处理进度、答复说明要求 (complaints to the supervising department)")
def complaints() -> None:
    pass


@complaints.command(
    "file",
    help="签名并提交投诉书（本机私钥签名；--out 只签名保存，可在网页上传）(sign and file a complaint)",
)
@click.option("--tender", required=True, help="项目编号 (tender id)")
@click.option("--lot", type=int, default=None, help="标段号；对整个项目投诉时不填 (lot number)")
@click.option("--matter", type=click.Choice(MATTERS), required=True, help="投诉事项 (the matter)")
@click.option(
    "--grounds", "grounds_file", type=_FILE, required=True, help="投诉事项、事实依据和法律依据（UTF-8 文本文件）"
)
@click.option("--requests", "requests_file", type=_FILE, required=True, help="投诉请求（UTF-8 文本文件）")
@click.option("--evidence", type=_FILE, multiple=True, help="证明材料（可重复，至多 10 个）")
@click.option("--keys", type=click.Path(exists=True, file_okay=False, path_type=pathlib.Path), required=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=pathlib.Path), default=None, help="只保存签名的投诉书")
def file_cmd(
    tender: str,
    lot: int | None,
    matter: str,
    grounds_file: pathlib.Path,
    requests_file: pathlib.Path,
    evidence: tuple[pathlib.Path, ...],
    keys: pathlib.Path,
    out: pathlib.Path | None,
) -> None:
    if lot is not None and not 1 <= lot <= 999:
        fail("标段号应为 1–999 (lot out of range)")
    grounds, requests = read_text(grounds_file, "投诉事项"), read_text(requests_file, "投诉请求")
    listed = evidence_list(evidence)
    with api_errors():
        key, _ = load_keys(keys, "sign", key_password())
        assert key is not None
        client = api_client()
        org = client.request("GET", "/api/v1/me")["organisation"] or {}
        info = client.request("GET", f"/api/v1/tenders/{quote(tender, safe='')}")
        kind = complaint_kind(str(info["category"]))
        statement = complaint_statement(
            tender_code=tender,
            lot_number=lot,
            complainant=str(org.get("credit_code", "")),
            kind=kind,
            matter=matter,
            grounds=grounds,
            requests=requests,
            evidence=listed,
        )
        body = {
            "tender": tender,
            "lot": lot,
            "kind": kind,
            "matter": matter,
            "grounds": grounds,
            "requests": requests,
            "evidence": listed,
            "signature": base64.b64encode(key.sign(statement)).decode(),
        }
        data = json.dumps(body, ensure_ascii=False).encode()
        if out is not None:
            out.write_bytes(data)
            click.echo(f"已签名并保存 (signed)：{out}；在“提出投诉”页面上传该文件和 {len(listed)} 个证明材料")
            return
        payload, media = multipart(data, list(evidence))
        c = client.request("POST", "/api/v1/complaints", payload, headers={"Content-Type": media})
    click.echo(f"投诉已提交 (filed)：{safe(c['number'])}（编号 {safe(c['id'])}），{safe(c['state_label'])}")
    click.echo(
        f"行政监督部门应于 {when(c['acceptance_due'])}前决定是否受理；进度见 ggzy-bid complaints show {safe(c['id'])}"
    )


@complaints.command("list", help="本单位的投诉和被要求作出的说明 (own complaints and statement requests)")
def list_cmd() -> None:
    with api_errors():
        client = api_client()
        items = client.request("GET", "/api/v1/complaints")["items"]
        asked = client.request("GET", "/api/v1/complaint-statements")["items"]
    if not items and not asked:
        click.echo("没有投诉 (no complaints)")
        return
    for c in items:
        lot = f"第{safe(c['lot'])}标段" if c.get("lot") else "全部标段"
        paused = "（活动暂停中）" if c.get("suspended") else ""
        click.echo(
            f"{safe(c['id'])}\t{safe(c['number'])}\t{safe(c['tender'])} {lot}\t{safe(c['matter'])}\t"
            f"{safe(c['state_label'])}{paused}\t提交 {beijing(c['filed_at'])}"
        )
    for r in asked:
        state = f"已说明 {beijing(r['answered_at'])}" if r.get("answer") else f"待说明，期限 {beijing(r['due_at'])}"
        click.echo(f"说明要求 {safe(r['id'])}\t{safe(r['number'])}\t{one_line(r['question'])}\t{state}")
    click.echo(BEIJING_FOOTER)


@complaints.command("show", help="投诉详情：状态、期限、文书和说明 (one complaint in full)")
@click.argument("complaint_id", type=click.IntRange(1, 2**31 - 1))
def show_cmd(complaint_id: int) -> None:
    with api_errors():
        c = api_client().request("GET", f"/api/v1/complaints/{complaint_id}")
    lot = f"第{safe(c['lot'])}标段" if c.get("lot") else "全部标段"
    click.echo(f"{safe(c['number'])}\t{safe(c['tender'])} {safe(c['tender_title'])} {lot}")
    click.echo(f"{safe(c['kind_label'])}；事项：{safe(c['matter_label'])}；投诉人：{safe(c['complainant'])}")
    click.echo(f"状态 (state)：{safe(c['state_label'])}{'；招标投标（采购）活动暂停中' if c.get('suspended') else ''}")
    click.echo(f"提交 {beijing(c['filed_at'])}；受理期限 {beijing(c['acceptance_due'])}")
    if c.get("decision_due"):
        click.echo(f"受理 {beijing(c['accepted_at'])}；处理决定期限 {beijing(c['decision_due'])}")
    if c.get("refusal_reason"):
        click.echo(f"不予受理 {beijing(c['refused_at'])}：{one_line(c['refusal_reason'])}")
    if c.get("finding_label"):
        click.echo(f"处理决定 {beijing(c['decided_at'])}：{safe(c['finding_label'])}；{one_line(c['decision'])}")
        if c.get("measures"):
            click.echo(f"责令采取的措施：{one_line(c['measures'])}")
    click.echo(f"投诉事项：{one_line(c['grounds'])}")
    click.echo(f"投诉请求：{one_line(c['requests'])}")
    for f in c["files"]:
        signed = "，平台签名" if f.get("signed") else ""
        click.echo(
            f"文书 {safe(f['id'])}\t{safe(f['kind_label'])}\t{safe(f['name'])}\t{beijing(f['created_at'])}\tSM3 {safe(f['sm3'])}{signed}"
        )
    for r in c["statements"]:
        answer = f"已说明：{one_line(r['answer'])}" if r.get("answer") else f"待说明，期限 {beijing(r['due_at'])}"
        click.echo(f"说明要求 {safe(r['id'])}\t{safe(r['org_name'])}\t{one_line(r['question'])}\t{answer}")
    click.echo(BEIJING_FOOTER)


@complaints.command("answer", help="答复行政监督部门的说明要求 (answer a statement request)")
@click.argument("request_id", type=click.IntRange(1, 2**31 - 1))
@click.option("--text", required=True, help="书面说明（5–10000 字）")
def answer_cmd(request_id: int, text: str) -> None:
    if not 5 <= len(text.strip()) <= 10_000:
        fail("书面说明应为 5–10000 字 (the statement is 5–10000 characters)")
    with api_errors():
        r = api_client().request("POST", f"/api/v1/complaint-statements/{request_id}/answer", {"text": text})
    click.echo(f"说明已提交 (answered)：{safe(r['number'])}，{when(r['answered_at'])}")


@complaints.command("withdraw", help="处理决定作出前撤回投诉（写明理由）(withdraw a complaint)")
@click.argument("complaint_id", type=click.IntRange(1, 2**31 - 1))
@click.option("--reason", required=True, help="撤回理由（5–2000 字）")
def withdraw_cmd(complaint_id: int, reason: str) -> None:
    if not 5 <= len(reason.strip()) <= 2000:
        fail("撤回理由应为 5–2000 字 (the reason is 5–2000 characters)")
    with api_errors():
        c = api_client().request("POST", f"/api/v1/complaints/{complaint_id}/withdraw", {"reason": reason})
    click.echo(f"投诉已撤回 (withdrawn)：{safe(c['number'])}")
