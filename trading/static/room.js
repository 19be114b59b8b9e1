/* What the opening room pages share (one lot's room, and the joint room of several lots): the
 * server's clock and the countdown, escaping, the price-reading rows, the event log, and following
 * the room's events (the app's own stream, or `ggzy live` with the ticket the page carries). */
(function (root) {
  "use strict";
  const LABELS = {stage: "阶段", sign_in: "签到", decryption: "解密", confirmation: "确认", objection: "异议", objection_answer: "答复", chat: "消息"};
  const esc = (s) => String(s ?? "").replace(/[&<>"]/g, (ch) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}[ch]));
  const $ = (id) => document.getElementById(id);

  /** #server-time and #countdown (its data-ends), kept on the server's clock. */
  function clock(serverTime) {
    let offset = Date.parse(serverTime) - Date.now();
    function tick() {
      const now = Date.now() + offset;
      $("server-time").textContent = new Date(now).toLocaleString("zh-CN", {timeZone: "Asia/Shanghai"});
      const ends = $("countdown").dataset.ends;
      if (!ends) { $("countdown").textContent = "—"; return; }
      const left = Math.max(0, Math.round((Date.parse(ends) - now) / 1000));
      $("countdown").textContent = Math.floor(left / 60) + " 分 " + (left % 60) + " 秒";
    }
    setInterval(tick, 1000);
    tick();
    return {sync(t) { offset = Date.parse(t) - Date.now(); }};
  }

  /** The stage line: label, paused, and the countdown's end. */
  function stage(st, time) {
    $("stage").textContent = st.label;
    $("paused").textContent = st.paused ? "（已暂停）" : "";
    $("countdown").dataset.ends = st.ends_at || "";
    time.sync(st.server_time);
  }

  const bidderRows = (bidders) => (bidders || []).map((b) =>
    `<tr><td>${esc(b.bidder)}</td><td>${b.signed_in ? "已签到" : "未签到"}</td><td>${esc(b.outcome)}</td></tr>`).join("");
  const readingRows = (table) => (table || []).map((r) =>
    `<tr><td>${esc(r.bidder)}</td><td>${esc(r.price || "—")}</td><td>${esc(Object.entries(r.fields || {}).map(([k, v]) => k + ": " + v).join("；"))}</td><td>${esc(r.bond || "—")}</td><td>${esc(r.outcome_label)}</td></tr>`).join("");

  function log(kind, ev, prefix) {
    const li = document.createElement("li");
    const text = ev.text || ev.answer || ev.note || ev.label || (ev.bidder ? ev.bidder + " " + (ev.state || "") : "");
    li.textContent = `${new Date(ev.at).toLocaleTimeString("zh-CN", {timeZone: "Asia/Shanghai"})} ${prefix || ""}[${LABELS[kind] || kind}] ${ev.from ? ev.from + "：" : ""}${text}`;
    li.className = "ev-" + kind;
    $("log").appendChild(li);
  }

  /** Follow the room: every event is logged, then ``refresh`` (debounced) fetches the state
   * ``render`` draws; chat changes no state. ``prefix(ev)`` names an event's lot in a joint room. */
  function follow({ownUrl, live, stateUrl, render, time, prefix}) {
    let url = ownUrl;
    if (live) {
      const base = live.base.startsWith(":") ? `${location.protocol}//${location.hostname}${live.base}` : live.base;
      url = `${base}${live.path}?ticket=${encodeURIComponent(live.ticket)}`;
    }
    const source = new EventSource(url);
    let pending = null;
    for (const kind of Object.keys(LABELS)) {
      source.addEventListener(kind, (e) => {
        const ev = JSON.parse(e.data);
        log(kind, ev, prefix ? prefix(ev) : "");
        if (kind === "chat") return;
        clearTimeout(pending);  // one state fetch for a burst of events (a joint step makes several)
        pending = setTimeout(() => fetch(stateUrl).then((r) => r.json()).then(render), 100);
      });
    }
    source.addEventListener("time", (e) => time.sync(JSON.parse(e.data).server_time));
    return source;
  }

  root.GgzyRoom = {esc, clock, stage, bidderRows, readingRows, log, follow};
})(window);
