/* The opening room pages (one lot's room, and the joint room of several lots), under the CSP: no
 * inline script, so each page says what it needs in data- attributes and this file starts it.
 * What they share: the server's clock and the countdown, escaping, the bidder and price-reading
 * rows, the event log, the host's buttons (disabled with the server's reason), and following the
 * room's events (the app's own stream, or `ggzy live` with the ticket the page carries).
 *
 * Every word a person reads about a code comes from the server (`*_label` fields of the room's
 * state and of each event): this file carries no label table of its own. */
(function (root) {
  "use strict";
  const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (ch) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[ch]));
  const $ = (id) => document.getElementById(id);
  const json = (el, name) => JSON.parse(el.dataset[name] || "null");

  /** #server-time and #countdown (its data-ends), kept on the server's clock. */
  function clock(serverTime) {
    let offset = Date.parse(serverTime) - Date.now();
    function tick() {
      const now = Date.now() + offset;
      $("server-time").textContent = new Date(now).toLocaleString("zh-CN", {timeZone: "Asia/Shanghai", hour12: false});
      const ends = $("countdown").dataset.ends;
      if (!ends) { $("countdown").textContent = "—"; return; }
      const left = Math.max(0, Math.round((Date.parse(ends) - now) / 1000));
      $("countdown").textContent = Math.floor(left / 60) + " 分 " + (left % 60) + " 秒";
    }
    setInterval(tick, 1000);
    tick();
    return {sync(t) { if (t) offset = Date.parse(t) - Date.now(); }};
  }

  /** The stage line: label, paused, and the countdown's end. */
  function stage(st, time) {
    $("stage").textContent = st.label;
    $("paused").textContent = st.paused ? "（已暂停）" : "";
    $("countdown").dataset.ends = st.ends_at || "";
    time.sync(st.server_time);
  }

  /** A button and the reason beside it (`<span class="why">`): disabled while the server would
   * refuse, with the server's own reason; ``confirm`` (if given) is its form's confirmation. */
  function gate(name, reason, confirm) {
    const button = $(name), why = $("why-" + name);
    if (!button) return;
    button.disabled = Boolean(reason);
    if (why) { why.textContent = reason || ""; why.hidden = !reason; }
    if (confirm !== undefined && button.form) button.form.dataset.confirm = confirm;
  }

  /** The host's controls from the state's ``controls`` (refusals) and ``advance_confirm``. */
  function controls(st) {
    if (!st.controls) return;
    gate("advance", st.controls.advance, st.advance_confirm || "");
    gate("pause", st.controls.pause);
    gate("resume", st.controls.resume);
    gate("extend", st.controls.extend);
    const pause = $("pause-form"), resume = $("resume-form");
    if (pause && resume) { pause.hidden = Boolean(st.paused); resume.hidden = !st.paused; }
  }

  const bidderRows = (bidders) => (bidders || []).map((b) =>
    `<tr><td>${esc(b.bidder)}</td><td>${b.signed_in ? "已签到" : "未签到"}</td><td>${esc(b.outcome_label)}</td></tr>`).join("");
  const readingRows = (table) => (table || []).map((r) =>
    `<tr><td>${esc(r.bidder)}<br><span class="muted">${esc(r.outcome_label)}${r.reason_label ? "：" + esc(r.reason_label) : ""}</span></td>` +
    `<td class="price">${esc(r.price_label || "—")}${r.fields_label ? `<br><span class="muted">${esc(r.fields_label)}</span>` : ""}</td>` +
    `<td>${esc(r.bond || "—")}</td></tr>`).join("");
  /** The joint room draws each lot here, with the columns of the one-lot room's page. */
  const READING_HEAD = "<tr><th>投标人与解密结果</th><th>投标报价（元）与其他报价内容</th><th>保证金</th></tr>";

  function log(ev, prefix) {
    const li = document.createElement("li");
    let text = ev.text || ev.answer || ev.note || ev.label || "";
    if (!text && ev.bidder) {
      text = ev.bidder + (ev.state_label ? " " + ev.state_label : "") + (ev.code_label ? "：" + ev.code_label : "");
    }
    const at = new Date(ev.at).toLocaleTimeString("zh-CN", {timeZone: "Asia/Shanghai", hour12: false});
    const who = ev.from || (ev.kind === "objection" ? ev.bidder : "");
    li.textContent = `${at} ${prefix || ""}[${ev.kind_label || ev.kind}] ${who ? who + "：" : ""}${text}`;
    li.className = "ev-" + ev.kind;
    $("log").appendChild(li);
  }

  /** Follow the room: every event is logged, then the state (debounced) is fetched and ``render``
   * draws it; chat changes no state. ``kinds`` are the event names the stream sends;
   * ``prefix(ev)`` names an event's lot in a joint room. */
  function follow({ownUrl, live, stateUrl, kinds, render, time, prefix}) {
    let url = ownUrl;
    if (live) {
      const base = live.base.startsWith(":") ? `${location.protocol}//${location.hostname}${live.base}` : live.base;
      url = `${base}${live.path}?ticket=${encodeURIComponent(live.ticket)}`;
    }
    let pending = null;
    const refresh = () => {
      clearTimeout(pending);  // one state fetch for a burst of events (a joint step makes several)
      pending = setTimeout(() => fetch(stateUrl, {headers: {Accept: "application/json"}, credentials: "same-origin"})
        .then((r) => (r.ok ? r.json() : null)).then((st) => st && render(st)).catch(() => {}), 100);
    };
    document.addEventListener("room:refresh", refresh);  // the key-file actions ask for it (ukey.js)
    if (typeof EventSource === "undefined") return null;
    const source = new EventSource(url);
    for (const kind of kinds) {
      source.addEventListener(kind, (e) => {
        const ev = JSON.parse(e.data);
        log(ev, prefix ? prefix(ev) : "");
        if (kind !== "chat") refresh();
      });
    }
    source.addEventListener("time", (e) => time.sync(JSON.parse(e.data).server_time));
    return source;
  }

  /** One lot's room (#room). */
  function startRoom(el) {
    const time = clock($("server-time").dataset.server);
    function render(st) {
      controls(st);
      stage(st, time);
      $("bidders").querySelector("tbody").innerHTML = bidderRows(st.bidders);
      $("table").querySelector("tbody").innerHTML = readingRows(st.table);
      const mine = $("my-state");
      if (mine && st.me) {
        mine.textContent = (st.me.signed_in ? "已签到" : "未签到") + "，" + st.me.outcome_label +
          (st.me.confirmation ? "，已确认开标记录" : "");
        for (const [action, reason] of Object.entries(st.me.actions || {})) gate("do-" + action, reason);
      }
      const held = $("set-aside-new");  // the host's section is drawn by the server: say when it is stale
      if (held && st.set_aside) {
        held.hidden = st.set_aside.map((h) => h.credit_code).join(",") === held.dataset.drawn;
        held.textContent = "被搁置的解密有变化（现有 " + st.set_aside.length + " 家），请刷新页面处理。";
      }
      if (st.record_sm3 && $("record-new")) {
        $("record-new").textContent = "开标记录已生成，请刷新页面查看与下载。";
      }
    }
    follow({ownUrl: el.dataset.ownUrl, live: json(el, "live"), stateUrl: el.dataset.stateUrl,
      kinds: json(el, "kinds"), render, time});
  }

  /** The joint room of a tender's lots (#joint-room): each lot drawn from the state. */
  function startJoint(el) {
    const roomUrl = el.dataset.roomUrl.replace(/0$/, "");
    const lotOf = {};
    function lotHtml(l) {
      lotOf[l.id] = l.lot;
      const record = l.final_record_sm3 ? `最终开标记录 SM3 <code class="hash">${esc(l.final_record_sm3)}</code>`
        : l.record_sm3 ? `待确认的开标记录 SM3 <code class="hash">${esc(l.record_sm3)}</code>` : "唱标结束后生成";
      return `<section class="lot" id="lot-${esc(l.lot)}" data-stage="${esc(l.stage)}">
        <h2>第${esc(l.lot)}标段：${esc(l.lot_name)} · <span class="lot-stage">${esc(l.label)}</span></h2>
        <p><a href="${roomUrl}${esc(l.id)}">进入本标段开标室</a></p>
        ${l.stage === "failed" ? "<p>投标人少于规定数量，本标段不予开标（流标）。</p>" : ""}
        ${l.set_aside && l.set_aside.length ? `<p class="error">本标段有 ${esc(l.set_aside.length)} 家投标人的解密被搁置，请进入本标段开标室核查处理。</p>` : ""}
        <table class="bidders"><thead><tr><th>投标人</th><th>签到</th><th>解密</th></tr></thead><tbody>${bidderRows(l.bidders)}</tbody></table>
        <table class="reading"><thead>${READING_HEAD}</thead><tbody>${readingRows(l.table)}</tbody></table>
        <p>开标记录：${record}</p></section>`;
    }
    const state = json(el, "state");
    const time = clock(state.server_time);
    function render(st) {
      controls(st);
      stage(st, time);
      $("lots").innerHTML = st.lots.map(lotHtml).join("");
    }
    render(state);
    follow({ownUrl: el.dataset.ownUrl, live: json(el, "live"), stateUrl: el.dataset.stateUrl,
      kinds: json(el, "kinds"), render, time,
      prefix: (ev) => (lotOf[ev.ceremony] ? `第${lotOf[ev.ceremony]}标段 ` : "")});
  }

  root.GgzyRoom = {esc, clock, stage, gate, controls, bidderRows, readingRows, log, follow};
  if (typeof document !== "undefined") {
    const start = () => {
      if ($("room")) startRoom($("room"));
      if ($("joint-room")) startJoint($("joint-room"));
    };
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start); else start();
  }
})(typeof window !== "undefined" ? window : globalThis);
