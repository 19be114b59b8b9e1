/* The supervisors' live monitor: the countdowns tick every second; the rooms' JSON is read again
 * every 15 s, and at once (debounced) when the live server streams an event of a watched room. */
(function () {
  "use strict";
  const root = document.getElementById("monitor");
  if (!root) return;
  const LIGHTS = {green: "#15803d", yellow: "#ca8a04", red: "#b91c1c"};
  const NAMES = {green: "绿灯", yellow: "黄灯", red: "红灯"};
  let skew = 0;  // server time − browser time, ms
  const server = document.getElementById("server-time");
  if (server && server.dataset.server) skew = Date.parse(server.dataset.server) - Date.now();

  function beijing(iso) {
    const d = new Date(Date.parse(iso) + 8 * 3600 * 1000);
    const p = (n) => String(n).padStart(2, "0");
    return `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}`;
  }

  function left(ms) {
    if (ms <= 0) return "已到时";
    const s = Math.floor(ms / 1000);
    const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
    const p = (n) => String(n).padStart(2, "0");
    return (d ? `${d}天 ` : "") + `${p(h)}:${p(m)}:${p(s % 60)}`;
  }

  function tick() {
    const now = Date.now() + skew;
    for (const el of root.querySelectorAll(".countdown")) {
      el.textContent = left(Date.parse(el.dataset.ends) - now);
    }
    if (server) server.textContent = beijing(new Date(now).toISOString()) + ":" + String(new Date(now).getUTCSeconds()).padStart(2, "0");
  }

  function cell(tr, text, cls) {
    const td = document.createElement("td");
    if (cls) td.className = cls;
    if (text !== undefined) td.textContent = text;
    tr.appendChild(td);
    return td;
  }

  function light(colour) {
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("width", "12"); svg.setAttribute("height", "12"); svg.setAttribute("viewBox", "0 0 12 12");
    svg.setAttribute("class", "light");
    const c = document.createElementNS(ns, "circle");
    c.setAttribute("cx", "6"); c.setAttribute("cy", "6"); c.setAttribute("r", "5");
    c.setAttribute("fill", LIGHTS[colour] || "#6b7280");
    svg.appendChild(c);
    return svg;
  }

  function render(id, rooms, empty) {
    const body = document.querySelector(`#${id} tbody`);
    if (!body) return;
    body.textContent = "";
    if (!rooms.length) {
      const tr = document.createElement("tr");
      const td = cell(tr, empty, "muted");
      td.colSpan = 6;
      body.appendChild(tr);
      return;
    }
    for (const r of rooms) {
      const tr = document.createElement("tr");
      tr.dataset.kind = r.kind; tr.dataset.id = r.id;
      const what = cell(tr, r.title);
      what.appendChild(document.createElement("br"));
      const sub = document.createElement("span");
      sub.className = "muted"; sub.textContent = `${r.tender} 第${r.lot}标段 ${r.lot_name}`;
      what.appendChild(sub);
      const stage = cell(tr, r.stage_label + (r.paused ? "（暂停）" : ""), "nowrap");
      if (r.suspended) {
        stage.appendChild(document.createElement("br"));
        const s = document.createElement("strong"); s.textContent = "标段暂停（投诉处理中）"; stage.appendChild(s);
      }
      for (const c of r.complaints) {
        stage.appendChild(document.createElement("br"));
        const a = document.createElement("a"); a.href = "/complaints/" + c.id; a.textContent = "投诉 " + c.number;
        stage.appendChild(a);
        stage.appendChild(document.createTextNode("：" + c.state_label + (c.finding_label ? "（" + c.finding_label + "）" : "")));
      }
      const due = cell(tr, undefined, "nowrap");
      if (r.next_at) {
        due.appendChild(document.createTextNode(r.next_label || ""));
        due.appendChild(document.createElement("br"));
        const strong = document.createElement("strong");
        strong.className = "countdown"; strong.dataset.ends = r.next_at;
        due.appendChild(strong);
      } else due.textContent = "—";
      cell(tr, r.bids === null ? "—" : String(r.bids), "num");
      const warn = cell(tr);
      if (!r.warnings.length) {
        const none = document.createElement("span"); none.className = "muted"; none.textContent = "无"; warn.appendChild(none);
      }
      for (const w of r.warnings) {
        const span = document.createElement("span");
        span.className = "warning nowrap"; span.dataset.colour = w.colour;
        span.appendChild(light(w.colour));
        const more = (w.worst === "red" && w.colour !== "red" ? "，曾红灯" : "") + (w.stopped ? "，已完成" : "") + (w.paused ? "，暂停计时" : "");
        span.appendChild(document.createTextNode(" "));
        const a = document.createElement("a"); a.href = "/supervision/warnings/" + w.id; a.textContent = w.title;
        span.appendChild(a);
        span.appendChild(document.createTextNode(`（${NAMES[w.colour] || w.colour}${more}，期限 ${beijing(w.due_at)}）`));
        warn.appendChild(span); warn.appendChild(document.createElement("br"));
      }
      const open = cell(tr);
      if (r.url) { const a = document.createElement("a"); a.href = r.url; a.textContent = "查看"; open.appendChild(a); }
      body.appendChild(tr);
    }
  }

  let pending = null;
  async function refresh() {
    pending = null;
    try {
      const resp = await fetch(root.dataset.stateUrl, {headers: {Accept: "application/json"}, credentials: "same-origin"});
      if (!resp.ok) return;
      const m = await resp.json();
      skew = Date.parse(m.server_time) - Date.now();
      render("openings", m.openings, "今日及近期没有开标");
      render("evaluations", m.evaluations, "没有进行中的评标");
      const note = document.getElementById("refreshed");
      if (note) note.textContent = "已更新 " + beijing(m.server_time);
      tick();
    } catch (e) { /* the next refresh tries again */ }
  }
  function soon() { if (!pending) pending = setTimeout(refresh, 1000); }

  let live = null;
  try { live = JSON.parse(root.dataset.live || "null"); } catch (e) { live = null; }
  if (live && typeof EventSource !== "undefined") {
    const base = live.base.startsWith(":") ? `${location.protocol}//${location.hostname}${live.base}` : live.base;
    const source = new EventSource(`${base}${live.path}?ticket=${encodeURIComponent(live.ticket)}`);
    for (const kind of ["stage", "sign_in", "decryption", "confirmation", "objection", "objection_answer"]) {
      source.addEventListener(kind, soon);
    }
  }
  tick();
  setInterval(tick, 1000);
  setInterval(refresh, 15000);
})();
