// The evaluation room page: renders the room's state and posts its actions (the API's own views
// under /evaluations/<id>/act/…, with the page's session and X-CSRFToken). Signatures (sign-in,
// recusal pledge, report) are made here with the expert's key file (ukey.js); the statements to
// sign come from the server and are shown before signing. Text goes in with textContent only.
(function (root) {
  "use strict";
  const U = root.GgzyUKey;
  let S = null;
  let staff = false;
  // platform time is shown in Beijing time, whatever the browser's zone
  const beijing = (iso) => new Date(iso).toLocaleString("zh-CN", { timeZone: "Asia/Shanghai", hour12: false });
  // amounts as the pages' money filter writes them: 12,800,000.00
  const money = (x) => (x === null || x === undefined || x === "" || isNaN(Number(x)) ? (x || "—")
    : Number(x).toLocaleString("zh-CN", { minimumFractionDigits: 2, maximumFractionDigits: 2 }));
  const cents = (x) => Math.round(Number(x) * 100);
  const points = (c) => (c / 100).toFixed(2);

  const el = (tag, text, attrs) => {
    const n = document.createElement(tag);
    if (text !== undefined && text !== null) n.textContent = String(text);
    for (const [k, v] of Object.entries(attrs || {})) n.setAttribute(k, v);
    return n;
  };
  const $ = (id) => document.getElementById(id);
  const cfg = () => $("room").dataset;
  const say = (text) => { $("message").textContent = text; $("message").hidden = !text; };
  const name = (id) => (S.bidders.find((b) => b.id === id) || {}).name || id;
  const leader = () => S.me !== null && S.me === S.leader;

  async function post(action, body, url) {
    say("处理中…");
    const r = await fetch(url || cfg().actUrl.replace("ACTION", action), {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": cfg().csrf },
      body: JSON.stringify(body || {}),
    });
    const data = await r.json();
    if (!r.ok) { say("未完成：" + ((data.error && data.error.message) || r.status)); return null; }
    // a later stage's route (a findings panel's review) answers with its own body: read the room again
    if (data && Array.isArray(data.bidders) && data.state) render(data); else await refresh();
    say("已完成");
    return data;
  }

  async function refresh() {
    const r = await fetch(cfg().stateUrl, { headers: { Accept: "application/json" } });
    if (r.ok) render(await r.json());
  }

  async function key() {
    const f = $("key-file").files[0];
    if (!f) throw new U.UKeyError("请选择签名密钥文件");
    return U.loadKey(await f.text(), $("key-password").value);
  }

  async function signAndPost(action, statementText, extra) {
    say("签名中…");
    try {
      const k = await key();
      const signature = U.sign(k, JSON.parse(statementText));
      await post(action, Object.assign({ signature }, extra || {}));
    } catch (e) { say("签名失败：" + (e.message || e)); }
  }

  function button(text, id, onclick) {
    const b = el("button", text, { id, type: "button" });
    b.addEventListener("click", onclick);
    return b;
  }

  // A step the server would refuse now: the button disabled, the server's reason beside it.
  function step(text, id, why, onclick) {
    const b = button(text, id, onclick);
    if (!why) return [b];
    b.disabled = true;
    return [b, el("span", why, { class: "why" })];
  }

  function renderSeats() {
    const body = $("seats").tBodies[0];
    body.replaceChildren();
    const c = S.committee, named = S.seats.filter((s) => s.representative && !s.recused).length;
    $("committee-size").textContent = `评标委员会 ${c.size} 名：评标专家 ${c.size - c.representatives} 名` +
      (c.representatives ? `，招标人代表 ${c.representatives} 名（已指定 ${named} 名）` : "");
    for (const s of S.seats) {
      const tr = el("tr");
      const who = s.name + (s.representative ? "（招标人代表）" : "") + (s.expert === S.leader ? "（组长）" : "") +
        (s.recused ? "（已回避：" + s.recusal_reason + "）" : "");
      [who, s.region_label || s.region, s.signed_in ? "已签到" : "未签到", s.pledged ? "已签署" : "—", s.votes].forEach((x) => tr.append(el("td", x)));
      body.append(tr);
    }
    const box = $("signin-actions");
    box.replaceChildren();
    if (!S.me || S.state !== "sign_in") return;
    const mine = S.seats.find((s) => s.expert === S.me);
    if (!mine.signed_in) box.append(button("SM2 签到", "sign-in", () => signAndPost("signin", S.statements.signin)));
    else if (!mine.pledged) {
      box.append(el("p", "回避承诺：" + JSON.parse(S.statements.pledge).text));
      box.append(button("签署回避承诺", "pledge", () => signAndPost("pledge", S.statements.pledge)));
      const reason = el("input", null, { id: "recuse-reason", placeholder: "与投标人存在利害关系的情形" });
      box.append(reason, button("申请回避", "recuse", () => post("recuse", { reason: reason.value })));
    } else {
      const sel = el("select", null, { id: "leader-choice" });
      S.seats.filter((s) => s.pledged && !s.recused && !(s.representative && c.leader_from_experts))
        .forEach((s) => sel.append(el("option", s.name, { value: s.expert })));
      box.append(el("span", "推选组长："), sel, button("投票", "vote-leader", () => post("leader", { candidate: Number(sel.value) })));
    }
  }

  function renderBidders() {
    const body = $("bidders").tBodies[0];
    body.replaceChildren();
    const mine = S.me && S.seats.find((s) => s.expert === S.me);
    const canRead = mine && mine.pledged && ["compliance", "scoring", "signing"].includes(S.state);
    for (const b of S.bidders) {
      const tr = el("tr", null, { "data-bidder": b.id });
      tr.append(el("td", b.name), el("td", money(b.price), { class: "num" }));
      tr.append(creditCell(b.credit, b.id, b.compliance));
      tr.append(el("td", b.compliance ? (b.compliance.passed ? "通过" : "不通过") : "—"));
      const cell = el("td");
      if (canRead) cell.append(el("a", "下载（水印副本）", { href: cfg().copyUrl.replace(/\/0\/copy$/, "/" + b.id + "/copy") }));
      if (mine && S.state === "compliance") {
        const voted = (S.my_votes || {})[String(b.id)];
        if (voted !== undefined) cell.append(el("span", voted ? " 已投：通过" : " 已投：不通过"));
        // a credit finding must be addressed: passing the bid then needs a reason too
        const flagged = b.credit && b.credit.result !== "clean";
        const passReason = flagged ? el("input", null, { id: "pass-reason-" + b.id, placeholder: "如何考虑信用查询结果（必填）" }) : null;
        if (passReason) cell.append(passReason);
        cell.append(button("通过", "pass-" + b.id, () => post("compliance",
          { bidder: b.id, passed: true, reason: passReason ? passReason.value : "" })));
        const items = el("input", null, { id: "fail-items-" + b.id, placeholder: "未满足的审查项，以、分隔" });
        const reason = el("input", null, { id: "fail-reason-" + b.id, placeholder: "理由" });
        cell.append(items, reason, button("不通过", "fail-" + b.id, () => post("compliance", {
          bidder: b.id, passed: false, reason: reason.value,
          failed_items: items.value.split(/[、,，]/).map((x) => x.trim()).filter(Boolean),
        })));
      }
      tr.append(cell);
      body.append(tr);
    }
  }

  // The credit check made when the compliance review started (财库〔2016〕125号): each entry found,
  // and once the review closed, the members' reasons for how they weighed it.
  function creditCell(c, id, compliance) {
    const td = el("td", null, { "data-credit": id });
    if (!c) { td.append(el("span", "—", { class: "muted" })); return td; }
    td.append(el("span", c.result_label, { class: c.result === "clean" ? "ok" : c.result === "barred" ? "error" : "warn" }));
    if (c.entries.length) {
      const ul = el("ul", null, { class: "credit-entries" });
      for (const e of c.entries) {
        // entries signed before the labels were part of them carry only the codes
        const region = e.region_label || e.region;
        const category = e.category_label || e.category || "全部类别";
        ul.append(el("li", `［${e.list_label}·${e.measure_label}］${e.authority} ${e.document_no}，` +
          `${e.starts_on} 至 ${e.ends_on || "长期"}，范围 ${region}·${category}` + (e.facts ? "：" + e.facts : "")));
      }
      td.append(ul);
    }
    if (compliance && c.result !== "clean") {
      const said = [...(compliance.credit_reasons || []).map((r) => "通过：" + r), ...(compliance.reasons || []).map((r) => "不通过：" + r)];
      if (said.length) {
        const ul = el("ul", null, { class: "credit-reasons" });
        said.forEach((r) => ul.append(el("li", r)));
        td.append(el("small", "评标委员会成员的审查意见："), ul);
      }
    }
    // the snapshot's own page is for staff and supervisors; the committee sees its SM3
    const snap = el("small", null, { class: "muted" });
    if (cfg().canReadCredit === "1") snap.append(el("a", `查询快照 #${c.check}`, { href: "/credit/checks/" + c.check }));
    else snap.append("查询快照 SM3 ", el("code", c.statement_sm3.slice(0, 16) + "…", { class: "hash", title: c.statement_sm3 }));
    td.append(snap);
    return td;
  }

  // Later stages' panels (hooks.room_findings): items, and the committee's record of considering them.
  function renderFindings() {
    const box = $("findings");
    box.replaceChildren();
    const panels = S.findings || [];
    if (!panels.length) { box.append(el("p", "暂无", { class: "muted" })); return; }
    panels.forEach((p, n) => {
      const sec = el("div", null, { class: "card", "data-findings": p.kind });
      sec.append(el("h3", p.title));
      const ul = el("ul");
      for (const it of p.items || []) {
        const li = el("li");
        li.append(el("strong", it.label), el("span", "：" + (it.bidders || []).join("、")));
        // values as stored (file names, tools, addresses) are code, the rest words
        if (it.detail_parts) {
          const d = el("div", null, { class: "muted" });
          it.detail_parts.forEach((part) => d.append(part.code !== undefined ? el("code", part.code) : part.text));
          li.append(d);
        } else if (it.detail) li.append(el("div", it.detail, { class: "muted" }));
        ul.append(li);
      }
      if (p.pending) ul.append(el("li", p.pending, { class: "muted" }));
      else if (!(p.items || []).length) ul.append(el("li", "未发现", { class: "muted" }));
      sec.append(ul);
      const r = p.review;
      if (r && r.done) sec.append(el("p", "委员会研判意见：" + r.text, { class: "ok" }));
      else if (r && r.required && leader()) {
        const text = el("textarea", null, { id: "findings-review-" + n, rows: "3", cols: "60", placeholder: "委员会如何考虑上述情况" });
        sec.append(text, button("记录研判意见", "findings-review-btn-" + n, () => post(null, { text: text.value }, r.page_url || r.url)));
      } else if (r && r.required) sec.append(el("p", "待评标委员会组长记录研判意见", { class: "muted" }));
      box.append(sec);
    });
  }

  function renderScoring() {
    const box = $("score-forms");
    box.replaceChildren();
    const factors = S.criteria.factors || [];
    const valid = S.bidders.filter((b) => b.compliance && b.compliance.passed);
    if (S.me && S.state === "scoring" && factors.length) {
      for (const b of valid) {
        const mine = S.sheets.find((x) => x.expert === S.me && x.bidder === b.id);
        const form = el("div", null, { class: "score-form", "data-bidder": b.id });
        form.append(el("strong", b.name + "："));
        const inputs = factors.map((f) => {
          const i = el("input", null, { name: f.name, size: "5", "aria-label": f.name, id: `score-${b.id}-${f.name}` });
          if (mine) i.value = mine.scores[f.name];
          form.append(el("label", `${f.name}（0–${f.weight}${f.objective ? "，客观分" : ""}）`), i);
          return i;
        });
        const total = el("input", null, { size: "6", id: `total-${b.id}`, "aria-label": "合计" });
        if (mine) total.value = mine.total;
        const sum = () => { total.value = inputs.reduce((a, i) => a + (Number(i.value) || 0), 0).toFixed(2); };
        inputs.forEach((i) => i.addEventListener("input", sum));
        form.append(el("label", "合计"), total, button(mine ? "修改评分" : "提交评分", "submit-" + b.id, () => post("scores", {
          bidder: b.id, total: total.value, scores: Object.fromEntries(factors.map((f, n) => [f.name, inputs[n].value])),
        })));
        box.append(form);
      }
    }
    renderSheets(factors);
    refreshChart();
  }

  // A bidder's name across the table, then its row: committee members as columns, each cell the
  // sum of the member's factor scores (the figures below it, in the factors' order), the last
  // column their average, which is the bidder's factor score. A declared total that differs is
  // shown under it. Names on their own line keep the figures readable on a phone.
  function renderSheets(factors) {
    const table = $("sheets");
    const head = table.tHead.rows[0];
    const body = table.tBodies[0];
    head.replaceChildren();
    body.replaceChildren();
    const members = S.seats.filter((s) => S.sheets.some((r) => r.expert === s.expert));
    const note = $("sheets-note");
    if (!S.sheets.length) { table.hidden = true; note.textContent = ""; return; }
    table.hidden = false;
    members.forEach((s) => head.append(el("th", s.name, { class: "num" })));
    head.append(el("th", "平均", { class: "num" }));
    const names = factors.map((f) => f.name);
    note.textContent = names.length ? "每格为评分因素合计，其下依次为：" + names.join(" + ") : "";
    for (const b of S.bidders) {
      const mine = S.sheets.filter((r) => r.bidder === b.id);
      if (!mine.length) continue;
      const title = el("tr", null, { class: "bidder-name" });
      title.append(el("th", b.name, { colspan: String(members.length + 1), scope: "rowgroup" }));
      body.append(title);
      const tr = el("tr", null, { "data-bidder": b.id });
      let sum = 0;
      for (const s of members) {
        const r = mine.find((x) => x.expert === s.expert);
        const td = el("td", null, { class: "num" });
        if (r) {
          const total = r.factor_total || r.total;
          sum += cents(total);
          td.append(el("strong", total));
          const parts = names.map((n) => r.scores[n]).filter((v) => v !== undefined);
          if (parts.length) td.append(el("br"), el("small", parts.join(" + "), { class: "muted" }));
          if (r.factor_total && cents(r.factor_total) !== cents(r.total)) td.append(el("br"), el("small", "自报合计 " + r.total, { class: "why" }));
          td.title = Object.entries(r.scores).map(([k, v]) => `${k} ${v}`).join("；");
        } else td.textContent = "—";
        tr.append(td);
      }
      // the mean in whole cents, rounded half up as the report rounds it
      tr.append(el("td", points(Math.floor((2 * sum + mine.length) / (2 * mine.length))), { class: "num" }));
      body.append(tr);
    }
  }

  // The chart is drawn by the server (only what this viewer may see); redraw it when the sheets change.
  let chartKey = null;
  function refreshChart() {
    const key = JSON.stringify(S.sheets);
    if (chartKey === null) { chartKey = key; return; }  // the page came with it
    if (key === chartKey) return;
    chartKey = key;
    const box = $("score-chart-box");
    fetch(box.dataset.chartUrl, { headers: { Accept: "image/svg+xml" } })
      .then((r) => (r.ok ? r.text() : null)).then((text) => {
        if (text === null) return;
        const doc = new DOMParser().parseFromString(text, "image/svg+xml");
        const svg = doc.documentElement;
        if (svg.nodeName !== "svg") return;
        const old = box.querySelector("svg");
        const fresh = document.importNode(svg, true);
        if (old) old.replaceWith(fresh); else box.prepend(fresh);
        box.hidden = !svg.hasChildNodes();
      });
  }

  function renderFlags() {
    const ul = $("flags");
    ul.replaceChildren();
    for (const f of S.flags) {
      const li = el("li", `［${f.kind_label || f.kind}］${name(f.bidder)}：${f.detail}`,
        { "data-flag": f.id });
      if (f.cleared) li.append(el("span", "（已修正）"));
      else if (f.resolution) li.append(el("span", "（处理意见：" + f.resolution + "）"));
      else if ((leader() || staff) && S.state === "scoring") {
        const r = el("input", null, { id: "resolve-" + f.id, placeholder: "讨论结论与理由" });
        li.append(r, button("记录理由", "resolve-btn-" + f.id, () => post(null, { reason: r.value },
          cfg().resolveUrl.replace(/0\/resolve$/, f.id + "/resolve"))));
      }
      ul.append(li);
    }
    if (!S.flags.length) ul.append(el("li", "暂无"));
  }

  function renderClarifications() {
    const ul = $("clarifications");
    ul.replaceChildren();
    if (!S.clarifications.length) ul.append(el("li", "暂无", { class: "muted" }));
    for (const c of S.clarifications) ul.append(el("li", `${name(c.bidder)}：${c.question}　答复：${c.answer || "（待答复，截止 " + beijing(c.deadline) + "）"}`));
    const box = $("clarify-form");
    box.replaceChildren();
    if ((leader() || staff) && ["compliance", "scoring"].includes(S.state)) {
      const sel = el("select", null, { id: "clarify-bidder" });
      S.bidders.forEach((b) => sel.append(el("option", b.name, { value: b.id })));
      const q = el("input", null, { id: "clarify-question", size: "50", placeholder: "澄清问题" });
      box.append(sel, q, button("发出澄清要求（24 小时内答复）", "clarify", () => post("clarify", { bidder: Number(sel.value), question: q.value, hours: 24 })));
    }
  }

  function renderReport() {
    const box = $("report-body");
    box.replaceChildren();
    if (!S.report) { box.append(el("p", "评分完成、评审提示处理完毕后由组长生成。")); return; }
    const sm3 = el("p", "报告 SM3：");
    sm3.append(el("code", S.report_sm3, { class: "hash" }));
    box.append(sm3);
    const link = el("p");
    link.append(el("a", "评标报告（PDF）", { href: cfg().reportUrl, id: "report-pdf" }));
    box.append(link);
    const ol = el("ol", null, { id: "ranking" });
    S.report.ranking.forEach((x) => ol.append(el("li", `${x.bidder}　报价 ${money(x.price)} 元　总分 ${x.total || "—"}`)));
    box.append(ol, el("p", "推荐中标候选人：" + S.report.candidates.map((c) => c.bidder).join("、")));
    box.append(el("p", `已签署 ${S.signed.length} / ${S.seats.filter((s) => !s.recused).length}`));
    if (S.me && S.state === "signing" && !S.signed.includes(S.me)) {
      const dissent = el("textarea", null, { id: "dissent", rows: "3", cols: "60", placeholder: "持不同意见时填写理由；同意则留空" });
      box.append(dissent, button("签署评标报告", "sign-report", () => {
        const st = JSON.parse(S.statements.report);
        const text = dissent.value.trim();
        if (text) { st.position = "dissent"; st.dissent_sm3 = U.sm3hex(new TextEncoder().encode(text)); }
        signAndPost("sign", JSON.stringify(st), { dissent: text });
      }));
    }
  }

  function renderControl() {
    const box = $("control-actions");
    box.replaceChildren();
    const blocked = S.blocked || {};
    const labels = { sign_in: "开始资格/符合性审查", compliance: "汇总审查结论（少数服从多数）", scoring: "生成评标报告" };
    const line = (...parts) => { const p = el("p"); p.append(...parts); box.append(p); };
    if ((leader() || staff) && labels[S.state]) line(...step(labels[S.state], "advance", blocked.advance, () => post("advance")));
    if ((leader() || staff) && S.state === "scoring") line(...step("运行评审检查", "run-checks", blocked.checks, () => post("checks")));
    if (staff && ["signing", "reported"].includes(S.state)) {
      const r = el("input", null, { id: "send-back-reason", placeholder: "退回理由", "aria-label": "退回理由" });
      line(r, button("评标回退", "send-back", () => post("send-back", { reason: r.value, to: "scoring" })));
    }
    if (S.publicity_due_at) box.append(el("p", `应于 ${beijing(S.publicity_due_at)} 前发布中标候选人公示（招标投标法实施条例第五十四条：收到评标报告之日起 3 日内）`, { id: "publicity-due" }));
    if (staff && S.state === "reported") line(...step("发布中标候选人公示", "publicity", blocked.publicity, () => post("publicity")));
    if (["publicity", "awarded"].includes(S.state)) {
      const p = el("p");
      p.append(el("a", S.state === "awarded" ? "中标结果与中标通知书" : "中标候选人公示（异议与定标）", { href: cfg().publicityUrl, id: "publicity-link" }));
      box.append(p);
    }
    if (!box.childNodes.length) box.append(el("p", S.state === "signing" ? "等待全体成员签署评标报告。" : "当前阶段没有需要您推进的操作。", { class: "muted" }));
  }

  function render(state) {
    S = state;
    $("stage").textContent = S.state_label;
    $("round").textContent = S.round;
    renderSeats(); renderBidders(); renderFindings(); renderScoring(); renderFlags(); renderClarifications(); renderReport(); renderControl();
  }

  function start(state, isStaff) {
    staff = isStaff;
    render(state);
    setInterval(() => fetch(cfg().stateUrl, { headers: { Accept: "application/json" } })
      .then((r) => (r.ok ? r.json() : null)).then((s) => {
        // keep what the expert is typing: only re-render when something changed
        if (s && JSON.stringify(s) !== JSON.stringify(S) && !document.activeElement.matches("input, textarea, select")) render(s);
      }), 5000);
  }

  root.GgzyEvaluation = { start };
  // the page carries its first state as a JSON data block (no inline script under the CSP)
  const data = document.getElementById("room-state");
  if (data) start(JSON.parse(data.textContent), cfg().staff === "1");
})(window);
