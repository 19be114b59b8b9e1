/* The bidding room's pages (观看竞价, the buyer's 竞价室, staff's 竞价控制台) under the CSP: no inline
 * script, so the page hands its room in #auction-room's data-room (the state, the latest bids, where
 * to follow) and this file draws it and keeps it current.
 *
 * Following: the live server's public stream (EventSource; the browser resumes with Last-Event-ID)
 * when the page names one, else, or when the stream cannot be reached, polling the feed
 * (`events?after=N`). Every event is applied once, in id order, whichever way it came; a bid whose
 * number (seq) skips one fetches the missing bids (`bids?after=N`), so a page that lost its
 * connection shows every bid it missed when it comes back.
 *
 * The clock is the server's: the page's offset from the server time it was given (and every `time`
 * event), so the countdown is the server's countdown, whatever the computer's clock says. Times are
 * shown as the server's `local` filter writes them (`YYYY-MM-DD HH:mm:ss`, Beijing time). Words for
 * codes come from the server (`*_label`). Amounts are decimal strings, counted here in cents (BigInt)
 * and never as floating point, and shown as the pages' money filter writes them (`1,234.50`).
 *
 * The room's log (竞价过程: phases, pauses, resumptions, increments) is read from the feed when the
 * page opens, the latest LOG_SHOWN shown with a button for the earlier ones, then kept current. */
(function (root) {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const POLL_MS = 1000;
  const SHOWN_BIDS = 200;
  const LOG_SHOWN = 50;
  const BEIJING = new Intl.DateTimeFormat("en-GB", {
    timeZone: "Asia/Shanghai", hourCycle: "h23",
    year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit",
  });

  /** "1234.5" → 123450n; null for what is not a positive amount with at most two decimals. */
  function cents(text) {
    const m = /^(\d{1,16})(?:\.(\d{1,2}))?$/.exec(String(text ?? "").trim());
    return m ? BigInt(m[1]) * 100n + BigInt((m[2] || "").padEnd(2, "0")) : null;
  }
  /** 123450n → "1234.50": the text a bid is signed with (signing/statements.py, rules.amount_text). */
  function plain(c) {
    const s = c.toString().padStart(3, "0");
    return s.slice(0, -2) + "." + s.slice(-2);
  }
  /** 123450n → "1,234.50", as the pages' money filter writes it. */
  function money(c) {
    const [whole, frac] = plain(c).split(".");
    return whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",") + "." + frac;
  }
  /** An instant (ms) as the server's `local` filter writes it: "2026-12-06 09:31:01", Beijing time. */
  function stamp(ms) {
    const p = {};
    for (const part of BEIJING.formatToParts(new Date(ms))) p[part.type] = part.value;
    return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second}`;
  }
  const at = (iso) => (iso && !Number.isNaN(Date.parse(iso)) ? stamp(Date.parse(iso)) : "");
  /** "100000.00" → "100,000.00 元"; what is not an amount as it came. */
  const yuan = (text) => { const c = cents(text); return c === null ? String(text ?? "") : money(c) + " 元"; };
  /** A time span for people: "4 天 23 小时 24 分", "2 小时 5 分", "4 分 59 秒", "12.3 秒". */
  function span(seconds) {
    const s = Math.max(0, seconds);
    if (s < 60) return s.toFixed(1) + " 秒";
    const whole = Math.floor(s), d = Math.floor(whole / 86400), h = Math.floor((whole % 86400) / 3600);
    const m = Math.floor((whole % 3600) / 60);
    if (d) return `${d} 天 ${h} 小时 ${m} 分`;
    if (h) return `${h} 小时 ${m} 分`;
    return `${m} 分 ${whole % 60} 秒`;
  }
  const REASONS = {no_bid: "无人出价", below_reserve: "最高出价低于底价"};
  /** What a non-bid event of the feed says, in words: [what, details]. */
  function describe(ev) {
    const why = ev.reason ? `（原因：${ev.reason}）` : "";
    if (ev.kind === "state") {
      if (ev.to === "paused") return ["暂停", `${why}${why ? "，" : ""}剩余时间保留，恢复后继续计时`];
      if (ev.from === "paused") {
        const kept = ev.paused_ms ? `，暂停 ${span(ev.paused_ms / 1000)}，尚未到达的时间点相应顺延` : "";
        return ["恢复竞价", `继续${ev.label || ""}${kept}`];
      }
      if (ev.to === "sold") return ["阶段变化", `${ev.label || "成交"}${ev.final_price ? "，成交价 " + yuan(ev.final_price) : ""}`];
      if (ev.to === "failed") return ["阶段变化", `${ev.label || "流拍"}${REASONS[ev.reason] ? "：" + REASONS[ev.reason] : ""}`];
      return ["阶段变化", ev.label || ""];
    }
    if (ev.kind === "increment") return [ev.kind_label || "调整加价幅度", `由 ${yuan(ev.from)}调整为 ${yuan(ev.to)}${why}`];
    if (ev.kind === "timed") return [ev.kind_label || "申请限时竞价", `申请限时竞价的竞买人：${ev.requests} 家`];
    if (ev.kind === "extend") return [ev.kind_label || "延长信息披露期", `延长 ${ev.days} 日${why}`];
    return [ev.kind_label || "", (ev.label || "") + why];
  }
  /** ``text`` with the key files' names as code (they are file names, not words). */
  function withFiles(node, text) {
    node.textContent = "";
    for (const part of String(text).split(/(sign\.key|enc\.key)/)) {
      if (/^(sign|enc)\.key$/.test(part)) { const c = document.createElement("code"); c.textContent = part; node.append(c); }
      else if (part) node.append(part);
    }
  }

  function serverClock(serverTime) {
    let offset = Date.parse(serverTime) - Date.now();
    return {
      now: () => Date.now() + offset,
      sync(t) { if (t) offset = Date.parse(t) - Date.now(); },
      /** The server's clock has reached ``t`` (a bid's acceptance): never show an earlier time. */
      atLeast(t) { const ms = Date.parse(t); if (ms > Date.now() + offset) offset = ms - Date.now(); },
    };
  }

  function start(el) {
    const data = JSON.parse(el.dataset.room);
    const names = data.names || null;  // staff's console: whose each number is
    const mine = data.number || null;  // the buyer's own number
    const clock = serverClock(data.state.server_time);
    const room = {
      state: data.state,
      lastEvent: data.state.last_event_id,
      lastSeq: 0,
      current: cents(data.state.current_price),
      increment: cents(data.state.increment),
      starting: cents(data.state.starting_price),
    };
    const tbody = $("bids").querySelector("tbody");
    for (const row of tbody.querySelectorAll("tr[data-seq]")) room.lastSeq = Math.max(room.lastSeq, Number(row.dataset.seq));
    room.lastSeq = Math.max(room.lastSeq, ...data.bids.map((b) => b.seq), 0);

    const minimum = () => (room.current === null ? room.starting : room.current + room.increment);

    function setText(id, text) { const n = $(id); if (n) n.textContent = text; }

    function draw() {
      const st = room.state;
      setText("room-state", st.state_label);
      setText("room-paused", st.paused ? "暂停原因：" + (st.pause_reason || "") : "");
      setText("current-label", st.ended ? "最高出价" : "当前价");
      setText("current-price", room.current === null ? "尚无出价" : money(room.current) + " 元");
      setText("current-seq", String(room.lastSeq));
      setText("minimum-next", money(minimum()) + " 元");
      // figures of a running room, not of an ended one
      for (const n of document.querySelectorAll(".while-open")) n.hidden = Boolean(st.ended);
      setText("increment", money(room.increment) + " 元");
      setText("clock-label", st.ends_label || "剩余时间");
      const pause = $("pause-form"), resume = $("resume-form");
      if (pause && resume) { pause.hidden = st.paused || st.ended; resume.hidden = !st.paused; }
      const amount = $("bid-amount");
      if (amount && !amount.dataset.touched) amount.value = plain(minimum());
      // the server opens bidding when its clock reaches the start (the next bid or sweep writes it down)
      const opening = st.state === "announced" && st.ends_at && Date.parse(st.ends_at) <= clock.now();
      const why = st.bidding || opening ? "" : (st.paused ? "竞价暂停中" : st.ended ? "竞价已结束" : "竞价尚未开始");
      const button = $("do-bid"), reason = $("why-do-bid");
      if (button) button.disabled = Boolean(why);
      if (reason) { reason.textContent = why; reason.hidden = !why; }
      tick();
    }

    function tick() {
      const st = room.state, now = clock.now();
      setText("server-time", stamp(now));
      let text = "—";
      if (st.paused && st.remaining_seconds !== null && st.remaining_seconds !== undefined) {
        text = "暂停中，保留 " + span(st.remaining_seconds);
      } else if (st.ends_at && !st.ended) {
        const left = (Date.parse(st.ends_at) - now) / 1000;
        text = left > 0 ? span(left) : "时间已到，等待服务器确认";
      } else if (st.ended) {
        text = "竞价已结束";
      }
      setText("countdown", text);
    }

    function addBid(b) {
      if (b.seq <= room.lastSeq) return;
      room.lastSeq = b.seq;
      room.current = cents(b.amount);
      if (b.countdown_ends_at) room.state.ends_at = b.countdown_ends_at;
      if (b.accepted_at) clock.atLeast(b.accepted_at);
      const none = tbody.querySelector("tr.none");
      if (none) none.remove();
      const tr = document.createElement("tr");
      tr.dataset.seq = String(b.seq);
      // as room_panel.html draws a row: [text, class, label when the row is stacked on a phone]
      const cells = [[String(b.seq), "num", "序号"], [b.bidding_number, "nowrap", "号牌"]];
      if (names) cells.push([names[b.bidding_number] || "", "", ""]);
      cells.push([money(cents(b.amount)), "price", "出价"], [b.phase_label || "", "nowrap", ""], [at(b.accepted_at), "nowrap", ""]);
      for (const [text, cls, label] of cells) {
        const td = document.createElement("td");
        td.textContent = text;
        if (cls) td.className = cls;
        if (label) td.dataset.label = label;
        tr.appendChild(td);
      }
      if (mine && b.bidding_number === mine) tr.children[1].append("（本单位）");
      tbody.insertBefore(tr, tbody.firstChild);
      while (tbody.children.length > SHOWN_BIDS) tbody.lastChild.remove();
    }

    // the log: every non-bid event known, by id; the latest LOG_SHOWN drawn unless all are asked for
    const logged = new Map();
    let logAll = false, logNote = "";
    function drawLog() {
      const list = $("room-log");
      if (!list) return;
      const events = [...logged.values()].sort((a, b) => b.id - a.id);
      const shown = logAll ? events : events.slice(0, LOG_SHOWN);
      list.replaceChildren(...shown.map((ev) => {
        const li = document.createElement("li"), [what, text] = describe(ev);
        const time = document.createElement("span"), kind = document.createElement("strong");
        time.className = "nowrap";
        time.textContent = at(ev.at);
        kind.textContent = what;
        li.append(time, " ", kind, text.startsWith("（") ? text : text ? " " + text : "");
        return li;
      }));
      const more = $("room-log-more");
      if (more) {
        more.hidden = logAll || events.length <= LOG_SHOWN;
        more.textContent = `显示更早的 ${events.length - shown.length} 条记录`;
      }
      setText("room-log-note", logNote || (events.length ? "" : "暂无记录（出价见上方“有效出价”）"));
    }
    function log(ev) {
      logged.set(ev.id, ev);
      drawLog();
    }
    $("room-log-more")?.addEventListener("click", () => { logAll = true; drawLog(); });

    /** The log as it stood when the page opened: the feed up to the page's last event, a page at a
     * time (bids are skipped: the table shows them). */
    function readLog(after, upto) {
      if (after >= upto) { logNote = ""; drawLog(); return Promise.resolve(); }
      return getJson(`${data.events_url}?after=${after}`).then((got) => {
        let last = after;
        for (const ev of got.items) {
          if (typeof ev.id !== "number" || ev.id > upto) continue;
          last = Math.max(last, ev.id);
          if (ev.kind !== "bid") logged.set(ev.id, ev);
        }
        if (got.more && last > after) return readLog(last, upto);
        logNote = "";
        drawLog();
        return undefined;
      }).catch(() => {
        logNote = "此前的竞价过程未能读取，请刷新页面重试";
        drawLog();
      });
    }

    const getJson = (url) => fetch(url, {headers: {Accept: "application/json"}, credentials: "same-origin"})
      .then((r) => (r.ok ? r.json() : Promise.reject(new Error("HTTP " + r.status))));

    let filling = null;
    /** The bids after the last one shown (a gap, or a return after a lost connection). */
    function fill() {
      if (!filling) {
        filling = getJson(`${data.bids_url}?after=${room.lastSeq}`).then((got) => {
          got.items.forEach(addBid);
          clock.sync(got.server_time);
          draw();
          filling = null;
          if (got.more) return fill();
        }).catch(() => { filling = null; });
      }
      return filling;
    }

    let refresh = null;
    /** Apply one event of the feed: once, in id order. */
    function apply(ev) {
      if (typeof ev.id !== "number" || ev.id <= room.lastEvent) return;
      room.lastEvent = ev.id;
      if (ev.kind === "bid") {
        if (ev.seq > room.lastSeq + 1) fill();
        else addBid(ev);
        draw();
        return;
      }
      if (ev.kind === "increment" && ev.to) room.increment = cents(ev.to);
      log(ev);
      draw();
      clearTimeout(refresh);  // the state's other fields (periods, pause) from the server
      refresh = setTimeout(sync, 150);
    }

    let syncing = null;
    /** The feed after the last event applied, and the room's state, from the app (`events?after=N`). */
    function sync() {
      if (!syncing) {
        syncing = getJson(`${data.events_url}?after=${room.lastEvent}`).then((got) => {
          got.items.forEach(apply);
          room.state = got.state;
          room.increment = cents(got.state.increment);
          room.starting = cents(got.state.starting_price);
          if (got.state.current_seq > room.lastSeq) return fill().then(() => got);
          return got;
        }).then((got) => {
          clock.sync(got.server_time);
          draw();
          syncing = null;
          if (got.more) return sync();
        }).catch(() => { syncing = null; });
      }
      return syncing;
    }

    let polling = null;
    function poll(why) {
      setText("link-state", why);
      if (!polling) polling = setInterval(sync, POLL_MS);
    }

    function follow() {
      const live = data.live;
      if (!live || typeof EventSource === "undefined") { poll("按秒刷新（未使用实时推送）"); return; }
      const base = live.base.startsWith(":") ? `${location.protocol}//${location.hostname}${live.base}` : live.base;
      const source = new EventSource(`${base}${live.path}?after=${room.lastEvent}`);
      for (const kind of ["bid", "state", "increment", "timed", "extend", "result"]) {
        source.addEventListener(kind, (e) => apply(JSON.parse(e.data)));
      }
      source.addEventListener("time", (e) => clock.sync(JSON.parse(e.data).server_time));
      source.addEventListener("open", () => {
        setText("link-state", "实时推送已连接");
        if (polling) { clearInterval(polling); polling = null; }
        sync();  // whatever happened while it was away (the stream resumes too; each event counts once)
      });
      // while the stream is down (the browser retries it, or has given up) the page polls the app
      source.addEventListener("error", () => {
        poll(source.readyState === EventSource.CLOSED ? "实时推送不可用，按秒刷新" : "连接中断，按秒刷新，正在重连……");
      });
    }

    $("bid-amount")?.addEventListener("input", (e) => { e.target.dataset.touched = "1"; });
    $("bid-minimum")?.addEventListener("click", () => {
      const amount = $("bid-amount");
      delete amount.dataset.touched;
      amount.value = plain(minimum());
    });
    document.addEventListener("visibilitychange", () => { if (!document.hidden) sync(); });
    setInterval(tick, 100);
    draw();
    logNote = "正在读取此前的竞价过程……";
    drawLog();
    readLog(0, room.lastEvent);
    follow();
    if (mine) bidForm(data.code, mine, room, addBid, draw, sync);
  }

  /** The buyer's bid: signed here with its key file (ukey.js), posted with the page's session. */
  function bidForm(code, number, room, addBid, draw, sync) {
    const form = $("bid-form"), U = root.GgzyUKey;
    if (!form || !U) return;
    const csrf = form.querySelector("input[name=csrf_token]").value;
    const status = (text, bad) => { const s = $("bid-status"); withFiles(s, text); s.className = bad ? "error" : "ok"; };
    /** What the server's refusal means for the buyer (a signature that fails is a wrong key file). */
    const refused = (got, r) => {
      const e = got.error || {};
      if (e.code === "invalid_signature") {
        return "签名未通过核验：所选私钥不是贵单位登记的签名私钥，请选择投标工具为贵单位生成的 sign.key（不是 enc.key，也不是其他单位的私钥）";
      }
      return e.message || ("HTTP " + r.status);
    };
    const picked = $("sign-key-name");
    $("sign-key").addEventListener("change", (e) => {
      const file = e.target.files[0];
      if (!picked) return;
      if (!file) { picked.textContent = "未选择文件"; return; }
      const name = document.createElement("code");  // a file name, not prose
      name.textContent = file.name;
      picked.replaceChildren(name);
    });
    let key = null, keyFrom = null;
    async function signingKey() {
      const file = $("sign-key").files[0];
      if (!file) throw new U.UKeyError("请选择签名私钥（sign.key）");
      const from = file.name + ":" + file.size + ":" + file.lastModified + ":" + $("key-password").value;
      if (!key || keyFrom !== from) { key = await U.loadKey(await file.text(), $("key-password").value); keyFrom = from; }
      return key;
    }
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const button = $("do-bid");
      const value = cents($("bid-amount").value);
      if (value === null || value === 0n) { status("出价应为正数，最多两位小数", true); return; }
      button.disabled = true;
      status("签名并提交中……");
      let body;
      try {  // signed here: nothing has been sent if this fails
        const amount = plain(value), seen = room.lastSeq;
        const statement = {purpose: "ggzy-auction-bid/1", auction: code, bidding_number: number, amount, seen_seq: seen};
        body = {amount, seen_seq: seen, signature: U.sign(await signingKey(), statement)};
      } catch (err) {
        status((err instanceof U.UKeyError ? err.message : "浏览器无法完成签名（" + err + "）") + "，出价未发送", true);
        draw();
        return;
      }
      try {
        const r = await fetch(form.dataset.urlBid, {method: "POST", credentials: "same-origin", body: JSON.stringify(body),
          headers: {"Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrf}});
        const got = await r.json().catch(() => ({}));
        if (!r.ok) {
          status("出价未被接受：" + refused(got, r), true);
          sync();  // refused: perhaps a bid this page has not shown yet
          return;
        }
        addBid(got);
        delete $("bid-amount").dataset.touched;
        status(`出价已被接受：第 ${got.seq} 次有效出价，${money(cents(got.amount))} 元`);
      } catch (err) {
        status("出价未能送达服务器（网络连接中断），请刷新后核对是否已被接受", true);
        sync();
      } finally {
        draw();
      }
    });
  }

  // what the page writes, for a test (or a console) to check against the server's own words
  root.GgzyAuction = {span, stamp, at, describe, money: (text) => yuan(text)};

  function boot() {
    const el = document.getElementById("auction-room");
    if (el) start(el);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", boot); else boot();
})(typeof window !== "undefined" ? window : globalThis);
